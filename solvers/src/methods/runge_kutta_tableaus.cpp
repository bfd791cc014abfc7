// The Runge-Kutta tableaus: every method is data (ENGINE.md rule 3). Rational coefficients are
// written as rational literals; irrational ones to full double precision (or more, from the
// authors' high-precision tables). Each tableau names its source.
#include "../stepper.hpp"
#include "tide/core/error.hpp"

#include <algorithm>
#include <cmath>

#include <initializer_list>
#include <utility>

namespace tide {
namespace {

using Row = std::vector<double>;
using Matrix = std::vector<std::vector<double>>;

// The S x S matrix from its rows as written in the literature (row i lists a[i][0..i-1] for an
// explicit method, a[i][0..i] for a diagonally implicit one); the rest is zero.
Matrix square(std::initializer_list<Row> rows) {
  Matrix a;
  for (const Row& row : rows) {
    a.push_back(row);
    a.back().resize(rows.size(), 0.0);
  }
  return a;
}

Row minus(const Row& x, const Row& y) {
  Row d(x.size());
  for (size_t i = 0; i < x.size(); ++i) d[i] = x[i] - y[i];
  return d;
}

// torchdiffeq's dense output: the quartic through y0, y1, y_mid = y0 + h sum_i mid_i k_i (the
// method's value at the step's middle), y0' = k_1 and y1' = k_S (the last stage), written as
// weights b_i(theta) of the stages (the `interp` rows, theta^1..theta^4).
Matrix quartic_through_midpoint(const Row& b, const Row& mid) {
  const std::size_t S = b.size();
  Matrix interp(S, Row(4, 0.0));
  for (std::size_t i = 0; i < S; ++i) {
    const double first = i == 0 ? 1.0 : 0.0, last = i + 1 == S ? 1.0 : 0.0;
    interp[i] = {first, last - 4 * first - 5 * b[i] + 16 * mid[i], 5 * first - 3 * last + 14 * b[i] - 32 * mid[i],
                 2 * last - 2 * first - 8 * b[i] + 16 * mid[i]};
  }
  return interp;
}

Tableau rk(const char* name, int order, Row c, Matrix a, Row b) {
  Tableau t;
  t.name = name;
  t.order = order;
  t.c = std::move(c);
  t.a = std::move(a);
  t.b = std::move(b);
  return t;
}

// ---- fixed step -------------------------------------------------------------------------------

// Euler (1768); Butcher, Numerical Methods for ODEs (2016), 2nd ed., sec. 20.
Tableau euler() { return rk("euler", 1, {0.0}, square({{}}), {1.0}); }

// Explicit midpoint rule (Runge 1895); Hairer, Norsett, Wanner I, sec. II.1, Table 1.1.
Tableau midpoint() {
  return rk("midpoint", 2, {0.0, 1.0 / 2}, square({{}, {1.0 / 2}}), {0.0, 1.0});
}

// Heun's method (explicit trapezoid rule, Heun 1900); Hairer, Norsett, Wanner I, sec. II.1.
Tableau heun() { return rk("heun", 2, {0.0, 1.0}, square({{}, {1.0}}), {1.0 / 2, 1.0 / 2}); }

// Heun's third-order method (Heun 1900); Hairer, Norsett, Wanner I, Table II.1.1 (torchdiffeq's heun3).
Tableau heun3() {
  return rk("heun3", 3, {0.0, 1.0 / 3, 2.0 / 3}, square({{}, {1.0 / 3}, {0.0, 2.0 / 3}}), {1.0 / 4, 0.0, 3.0 / 4});
}

// Ralston's minimum-error 2nd-order method; Ralston, Math. Comp. 16 (1962) 431-437.
Tableau ralston() {
  return rk("ralston", 2, {0.0, 2.0 / 3}, square({{}, {2.0 / 3}}), {1.0 / 4, 3.0 / 4});
}

// The classical Runge-Kutta method (Kutta 1901); Hairer, Norsett, Wanner I, Table II.1.2 left.
Tableau rk4() {
  return rk("rk4", 4, {0.0, 1.0 / 2, 1.0 / 2, 1.0},
            square({{}, {1.0 / 2}, {0.0, 1.0 / 2}, {0.0, 0.0, 1.0}}),
            {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6});
}

// Kutta's 3/8 rule (Kutta 1901); Hairer, Norsett, Wanner I, Table II.1.2 right.
Tableau rk4_38() {
  return rk("rk4_38", 4, {0.0, 1.0 / 3, 2.0 / 3, 1.0},
            square({{}, {1.0 / 3}, {-1.0 / 3, 1.0}, {1.0, -1.0, 1.0}}),
            {1.0 / 8, 3.0 / 8, 3.0 / 8, 1.0 / 8});
}

// ---- adaptive explicit ------------------------------------------------------------------------

// Heun 2 with embedded Euler 1; e.g. Hairer, Norsett, Wanner I, sec. II.4 (embedded formulas).
Tableau heun_euler() {
  Tableau t = rk("heun_euler", 2, {0.0, 1.0}, square({{}, {1.0}}), {1.0 / 2, 1.0 / 2});
  t.error_order = 1;
  t.e = minus(t.b, {1.0, 0.0});
  return t;
}

// Bogacki & Shampine, "A 3(2) pair of Runge-Kutta formulas", Appl. Math. Lett. 2 (1989) 321-325.
// FSAL; its natural dense output is the cubic Hermite interpolant (the fallback).
Tableau bosh3() {
  Tableau t = rk("bosh3", 3, {0.0, 1.0 / 2, 3.0 / 4, 1.0},
                 square({{}, {1.0 / 2}, {0.0, 3.0 / 4}, {2.0 / 9, 1.0 / 3, 4.0 / 9}}),
                 {2.0 / 9, 1.0 / 3, 4.0 / 9, 0.0});
  t.error_order = 2;
  t.e = minus(t.b, {7.0 / 24, 1.0 / 4, 1.0 / 3, 1.0 / 8});
  t.fsal = true;
  t.interp_order = 3;
  return t;
}

// Dormand & Prince, "A family of embedded Runge-Kutta formulae", J. Comput. Appl. Math. 6 (1980)
// 19-26; dense output of Shampine, Math. Comp. 46 (1986) 135-150 (as in dopri5.f / scipy RK45).
Tableau dopri5() {
  Tableau t = rk("dopri5", 5, {0.0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0, 1.0},
                 square({{},
                         {1.0 / 5},
                         {3.0 / 40, 9.0 / 40},
                         {44.0 / 45, -56.0 / 15, 32.0 / 9},
                         {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
                         {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
                         {35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}}),
                 {35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0.0});
  t.error_order = 4;
  t.e = minus(t.b, {5179.0 / 57600, 0.0, 7571.0 / 16695, 393.0 / 640, -92097.0 / 339200,
                    187.0 / 2100, 1.0 / 40});
  t.fsal = true;
  t.interp = {
      {1.0, -8048581381.0 / 2820520608, 8663915743.0 / 2820520608, -12715105075.0 / 11282082432},
      {0.0, 0.0, 0.0, 0.0},
      {0.0, 131558114200.0 / 32700410799, -68118460800.0 / 10900136933,
       87487479700.0 / 32700410799},
      {0.0, -1754552775.0 / 470086768, 14199869525.0 / 1410260304, -10690763975.0 / 1880347072},
      {0.0, 127303824393.0 / 49829197408, -318862633887.0 / 49829197408,
       701980252875.0 / 199316789632},
      {0.0, -282668133.0 / 205662961, 2019193451.0 / 616988883, -1453857185.0 / 822651844},
      {0.0, 40617522.0 / 29380423, -110615467.0 / 29380423, 69997945.0 / 29380423}};
  t.interp_order = 4;
  return t;
}

// Tsitouras, "Runge-Kutta pairs of order 5(4) satisfying only the first column simplifying
// assumption", Comput. Math. Appl. 62 (2011) 770-775 (high-precision values, dense output in
// expanded polynomial form, as tabulated in OrdinaryDiffEq.jl).
Tableau tsit5() {
  const Row b = {0.096460766818065229518167313165128763, 0.01,
                 0.47988965041449957477524953229059652,  1.3790085741037418931922748218568728,
                 -3.2900695154360806799010475857113639,  2.3247105240997739824153559183987658,
                 0.0};
  Tableau t = rk(
      "tsit5", 5, {0.0, 0.161, 0.327, 0.9, 0.98002554090450968572981028628702460, 1.0, 1.0},
      square({{},
              {0.161},
              {-0.0084806554923569885444268742502307747, 0.33548065549235698854442687425023077},
              {2.8971530571054934321304325941929388, -6.3594484899750748431481599123838256,
               4.3622954328695814110177273181908869},
              {5.3258648284392566044288779208405113, -11.748883564062827877747170339785773,
               7.4955393428898362083046047845643582, -0.092495066361755249256502079332071916},
              {5.8614554429464200286592514869826479, -12.920969317847109291706118681783359,
               8.1593678985761586431804007945392535, -0.071584973281400997224530542525829739,
               -0.028269050394068382909003057212712241},
              Row(b.begin(), b.end() - 1)}),
      b);
  t.error_order = 4;
  // b minus the embedded 4th-order weights (b_hat_7 = 1/66).
  t.e = {0.0017800110522257714433785506075395348, 0.00081643445965674690322363606335468624,
         -0.0078808780102619960103147276725263042, 0.14471100717326290753716514797263512,
         -0.58235716545255522501993761065204218,  0.45808210592918694666163651883255430,
         -1.0 / 66};
  t.fsal = true;
  t.interp = {{1.0, -2.7637061972748259113367359304814003, 2.9132554618219127437506809930680800,
               -1.0530884977290216},
              {0.0, 0.1317, -0.2234, 0.1017},
              {0.0, 3.9302962368947515285068744670981340, -5.9410338721315047347024920258945800,
               2.490627285651252793},
              {0.0, -12.411077166933676983734381540685453, 30.338188630282321598172990369183658,
               -16.54810288924490272},
              {0.0, 37.509313416511039194969039653345196, -88.178904894766401101427669354120982,
               47.37952196281928122},
              {0.0, -27.896526289197287805948263144598644, 65.091894674793671526290219287165537,
               -34.87065786149660974},
              {0.0, 1.5, -4.0, 2.5}};
  t.interp_order = 4;
  return t;
}

// Fehlberg, NASA TR R-315 (1969), RKF4(5) (Table III); Hairer, Norsett, Wanner I, Table II.5.1.
// Propagates the 4th-order solution (no local extrapolation); the 5th-order one estimates.
Tableau fehlberg45() {
  Tableau t = rk("fehlberg45", 4, {0.0, 1.0 / 4, 3.0 / 8, 12.0 / 13, 1.0, 1.0 / 2},
                 square({{},
                         {1.0 / 4},
                         {3.0 / 32, 9.0 / 32},
                         {1932.0 / 2197, -7200.0 / 2197, 7296.0 / 2197},
                         {439.0 / 216, -8.0, 3680.0 / 513, -845.0 / 4104},
                         {-8.0 / 27, 2.0, -3544.0 / 2565, 1859.0 / 4104, -11.0 / 40}}),
                 {25.0 / 216, 0.0, 1408.0 / 2565, 2197.0 / 4104, -1.0 / 5, 0.0});
  t.error_order = 5;
  t.e = minus(t.b, {16.0 / 135, 0.0, 6656.0 / 12825, 28561.0 / 56430, -9.0 / 50, 2.0 / 55});
  return t;
}

// Hairer, Norsett, Wanner I, sec. II.10 (Dormand-Prince 8(5,3)), coefficients of dop853.f.
// Stage 12 sits at c = 1 but is not f at the new state (dop853 evaluates that as a 13th
// stage), so no FSAL; dense output is the Hermite fallback.
Tableau dop853() {
  Tableau t = rk(
      "dop853", 8,
      {0.0, 0.526001519587677318785587544488e-1, 0.789002279381515978178381316732e-1,
       0.118350341907227396726757197510, 0.281649658092772603273242802490, 1.0 / 3, 1.0 / 4,
       4.0 / 13, 127.0 / 195, 3.0 / 5, 6.0 / 7, 1.0},
      square({{},
              {5.26001519587677318785587544488e-2},
              {1.97250569845378994544595329183e-2, 5.91751709536136983633785987549e-2},
              {2.95875854768068491816892993775e-2, 0.0, 8.87627564304205475450678981324e-2},
              {2.41365134159266685502369798665e-1, 0.0, -8.84549479328286085344864962717e-1,
               9.24834003261792003115737966543e-1},
              {1.0 / 27, 0.0, 0.0, 1.70828608729473871279604482173e-1,
               1.25467687566822425016691814123e-1},
              {19.0 / 512, 0.0, 0.0, 1.70252211019544039314978060272e-1,
               6.02165389804559606850219397283e-2, -9.0 / 512},
              {3.70920001185047927108779319836e-2, 0.0, 0.0, 1.70383925712239993810214054705e-1,
               1.07262030446373284651809199168e-1, -1.53194377486244017527936158236e-2,
               8.27378916381402288758473766002e-3},
              {6.24110958716075717114429577812e-1, 0.0, 0.0, -3.36089262944694129406857109825,
               -8.68219346841726006818189891453e-1, 2.75920996994467083049415600797e1,
               2.01540675504778934086186788979e1, -4.34898841810699588477366255144e1},
              {4.77662536438264365890433908527e-1, 0.0, 0.0, -2.48811461997166764192642586468,
               -5.90290826836842996371446475743e-1, 2.12300514481811942347288949897e1,
               1.52792336328824235832596922938e1, -3.32882109689848629194453265587e1,
               -2.03312017085086261358222928593e-2},
              {-9.3714243008598732571704021658e-1, 0.0, 0.0, 5.18637242884406370830023853209,
               1.09143734899672957818500254654, -8.14978701074692612513997267357,
               -1.85200656599969598641566180701e1, 2.27394870993505042818970056734e1,
               2.49360555267965238987089396762, -3.0467644718982195003823669022},
              {2.27331014751653820792359768449, 0.0, 0.0, -1.05344954667372501984066689879e1,
               -2.00087205822486249909675718444, -1.79589318631187989172765950534e1,
               2.79488845294199600508499808837e1, -2.85899827713502369474065508674,
               -8.87285693353062954433549289258, 1.23605671757943030647266201528e1,
               6.43392746015763530355970484046e-1}}),
      {5.42937341165687622380535766363e-2, 0.0, 0.0, 0.0, 0.0, 4.45031289275240888144113950566,
       1.89151789931450038304281599044, -5.8012039600105847814672114227,
       3.1116436695781989440891606237e-1, -1.52160949662516078556178806805e-1,
       2.01365400804030348374776537501e-1, 4.47106157277725905176885569043e-2});
  t.error_order = 5;
  // er1..er12 of dop853.f.
  t.e = {0.1312004499419488073250102996e-1, 0.0, 0.0, 0.0, 0.0,
         -0.1225156446376204440720569753e1, -0.4957589496572501915214079952,
         0.1664377182454986536961530415e1,  -0.3503288487499736816886487290,
         0.3341791187130174790297318841,    0.8192320648511571246570742613e-1,
         -0.2235530786388629525884427845e-1};
  // b minus the 3rd-order weights bhh1, bhh2, bhh3 of dop853.f (on stages 1, 9 and 12; their
  // decimals there are 31/127, 12675/17272 and 3/136).
  t.e3 = minus(t.b, {31.0 / 127, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 12675.0 / 17272, 0.0, 0.0,
                     3.0 / 136});
  return t;
}

// ---- torchdiffeq's own (SolveOptions::torchdiffeq(name) takes them by torchdiffeq's names) ----

// torchdiffeq's adaptive_heun: Heun 2 with embedded Euler 1 (as heun_euler), but the stage at the
// Euler point f(t + h, y + h k1) is reused as the next step's first stage (reuse_last_stage), so
// a step costs one evaluation; dense output torchdiffeq's quartic with y_mid = y + h k1 / 2.
Tableau adaptive_heun() {
  Tableau t = rk("adaptive_heun", 2, {0.0, 1.0}, square({{}, {1.0}}), {1.0 / 2, 1.0 / 2});
  t.error_order = 1;
  t.e = {1.0 / 2, -1.0 / 2};
  t.reuse_last_stage = true;
  t.interp = quartic_through_midpoint(t.b, {1.0 / 2, 0.0});
  t.interp_order = 1;  // the midpoint is an Euler half step (its error h^2 f' / 8)
  return t;
}

// Fehlberg's RKF1(2) (NASA TR R-315, 1969) as torchdiffeq's fehlberg2 takes it: the 2nd-order
// solution propagates, and the last stage, f at the 1st-order solution, is reused as the next
// first stage (reuse_last_stage); dense output torchdiffeq's quartic with y_mid = y + h k2 / 2.
Tableau fehlberg2() {
  Tableau t = rk("fehlberg2", 2, {0.0, 1.0 / 2, 1.0}, square({{}, {1.0 / 2}, {1.0 / 256, 255.0 / 256}}),
                 {1.0 / 512, 255.0 / 256, 1.0 / 512});
  t.error_order = 1;
  t.e = {-1.0 / 512, 0.0, 1.0 / 512};
  t.reuse_last_stage = true;
  t.interp = quartic_through_midpoint(t.b, {0.0, 1.0 / 2, 0.0});
  t.interp_order = 1;  // y + h k2 / 2 with k2 = f(y + h k1 / 2): off the midpoint by h^2 f' / 8
  return t;
}

// Prince & Dormand, "High order embedded Runge-Kutta formulae", J. Comput. Appl. Math. 7 (1981)
// 67-75: RK8(7)13M, with a 14th stage at the new state (FSAL), as torchdiffeq's dopri8 (not
// Hairer's DOP853: that is dop853); dense output torchdiffeq's quartic through its mid weights.
Row dopri8_mid() {
  constexpr double h = 0.5;
  auto p5 = [h](double a5, double a4, double a3, double a2, double a1, double a0) {
    return (a5 * h * h * h * h * h + a4 * h * h * h * h + a3 * h * h * h + a2 * h * h + a1 * h + a0) * h;
  };
  Row mid(14, 0.0);
  mid[0] = p5(-6.3448349392860401388, 22.1396504998094068976, -30.0610568289666450593, 19.9990069333683970610, -6.6910181737837595697, 1.0);
  mid[5] = p5(-39.6107919852202505218, 116.4422149550342161651, -121.4999627731334642623, 52.2273532792945524050, -7.6142658045872677172, 0.0);
  mid[6] = p5(20.3761213808791436958, -67.1451318825957197185, 83.1721004639847717481, -46.8919164181093621583, 10.7281392630428866124, 0.0);
  mid[7] = p5(7.3347098826795362023, -16.5672243527496524646, 9.5724507555993664382, -0.1890893225010595467, 0.5526637063753648783, 0.0);
  mid[8] = p5(32.8801774352459155182, -89.9916014847245016028, 87.8406057677205645007, -35.7075975946222072821, 4.2186562625665153803, 0.0);
  mid[9] = p5(-10.1588990526426760954, 22.6237489648532849093, -17.4152107770762969005, 6.2736448083240352160, -0.6627209125361597559, 0.0);
  mid[10] = p5(-12.5401268098782561200, 32.2362340167355370113, -28.5903289514790976966, 10.3160881272450748458, -1.2636789001135462218, 0.0);
  mid[11] = p5(29.5553001484516038033, -82.1020315488359848644, 81.6630950584341412934, -34.7650769866611817349, 5.4106037898590422230, 0.0);
  mid[12] = p5(-41.7923486424390588923, 116.2662185791119533462, -114.9375291377009418170, 47.7457971078225540396, -7.0321379067945741781, 0.0);
  mid[13] = p5(20.3006925822100825485, -53.9020777466385396792, 50.2558364226176017553, -19.0082099341608028453, 2.3537586759714983486, 0.0);
  return mid;
}

Tableau dopri8() {
  const Row b = {14005451.0 / 335480064, 0.0, 0.0, 0.0, 0.0, -59238493.0 / 1068277825, 181606767.0 / 758867731,
                 561292985.0 / 797845732, -1041891430.0 / 1371343529, 760417239.0 / 1151165299,
                 118820643.0 / 751138087, -528747749.0 / 2220607170, 1.0 / 4, 0.0};
  Tableau t = rk(
      "dopri8", 8,
      {0.0, 1.0 / 18, 1.0 / 12, 1.0 / 8, 5.0 / 16, 3.0 / 8, 59.0 / 400, 93.0 / 200, 5490023248.0 / 9719169821, 13.0 / 20,
       1201146811.0 / 1299019798, 1.0, 1.0, 1.0},
      square({{},
              {1.0 / 18},
              {1.0 / 48, 1.0 / 16},
              {1.0 / 32, 0.0, 3.0 / 32},
              {5.0 / 16, 0.0, -75.0 / 64, 75.0 / 64},
              {3.0 / 80, 0.0, 0.0, 3.0 / 16, 3.0 / 20},
              {29443841.0 / 614563906, 0.0, 0.0, 77736538.0 / 692538347, -28693883.0 / 1125000000, 23124283.0 / 1800000000},
              {16016141.0 / 946692911, 0.0, 0.0, 61564180.0 / 158732637, 22789713.0 / 633445777, 545815736.0 / 2771057229,
               -180193667.0 / 1043307555},
              {39632708.0 / 573591083, 0.0, 0.0, -433636366.0 / 683701615, -421739975.0 / 2616292301, 100302831.0 / 723423059,
               790204164.0 / 839813087, 800635310.0 / 3783071287},
              {246121993.0 / 1340847787, 0.0, 0.0, -37695042795.0 / 15268766246, -309121744.0 / 1061227803,
               -12992083.0 / 490766935, 6005943493.0 / 2108947869, 393006217.0 / 1396673457, 123872331.0 / 1001029789},
              {-1028468189.0 / 846180014, 0.0, 0.0, 8478235783.0 / 508512852, 1311729495.0 / 1432422823,
               -10304129995.0 / 1701304382, -48777925059.0 / 3047939560, 15336726248.0 / 1032824649,
               -45442868181.0 / 3398467696, 3065993473.0 / 597172653},
              {185892177.0 / 718116043, 0.0, 0.0, -3185094517.0 / 667107341, -477755414.0 / 1098053517,
               -703635378.0 / 230739211, 5731566787.0 / 1027545527, 5232866602.0 / 850066563, -4093664535.0 / 808688257,
               3962137247.0 / 1805957418, 65686358.0 / 487910083},
              {403863854.0 / 491063109, 0.0, 0.0, -5068492393.0 / 434740067, -411421997.0 / 543043805,
               652783627.0 / 914296604, 11173962825.0 / 925320556, -13158990841.0 / 6184727034, 3936647629.0 / 1978049680,
               -160528059.0 / 685178525, 248638103.0 / 1413531060, 0.0},
              Row(b.begin(), b.end() - 1)}),
      b);
  t.error_order = 7;
  t.e = minus(b, {13451932.0 / 455176623, 0.0, 0.0, 0.0, 0.0, -808719846.0 / 976000145, 1757004468.0 / 5645159321,
                  656045339.0 / 265891186, -3867574721.0 / 1518517206, 465885868.0 / 322736535, 53011238.0 / 667516719,
                  2.0 / 45, 0.0, 0.0});
  t.fsal = true;
  t.interp = quartic_through_midpoint(b, dopri8_mid());
  t.interp_order = 4;
  return t;
}

// ---- torchdiffeq's forms of published methods (SolveOptions::torchdiffeq_variant) ----

// The tableau as torchdiffeq implements it: dopri5 with the embedded weights of its tableau
// (1951/21600, ..., 1/60: an estimate 2/3 the size of Dormand-Prince's 5179/57600, ..., 1/40) and
// torchdiffeq's quartic through Shampine's midpoint; bosh3 with the quartic through y + h k2 / 2.
// The other tableaus torchdiffeq has are the same in both.
Tableau torchdiffeq_form(Method method, Tableau t) {
  if (method == Method::dopri5) {
    t.e = minus(t.b, {1951.0 / 21600, 0.0, 22642.0 / 50085, 451.0 / 720, -12231.0 / 42400, 649.0 / 6300, 1.0 / 60});
    t.interp = quartic_through_midpoint(t.b, {6025192743.0 / 30085553152 / 2, 0.0, 51252292925.0 / 65400821598 / 2,
                                              -2691868925.0 / 45128329728 / 2, 187940372067.0 / 1594534317056 / 2,
                                              -1776094331.0 / 19743644256 / 2, 11237099.0 / 235043384 / 2});
  }
  // bosh3's midpoint y + h k2 / 2 is off by h^2 f' / 8: the quartic through it is first order
  if (method == Method::bosh3) t.interp = quartic_through_midpoint(t.b, {0.0, 1.0 / 2, 0.0, 0.0}), t.interp_order = 1;
  return t;
}

// ---- adaptive implicit ------------------------------------------------------------------------

// Kvaerno, "Singly diagonally implicit Runge-Kutta methods with an explicit first stage",
// BIT 44 (2004) 489-502: ESDIRK 3(2), L-stable, stiffly accurate; gamma is the root of
// 6 g^3 - 18 g^2 + 9 g - 1 = 0 in (0, 1/2) (the L-stable 3rd-order SDIRK value).
Tableau kvaerno3() {
  constexpr double g = 0.43586652150845899941601945;
  const double a31 = (-4 * g * g + 6 * g - 1) / (4 * g), a32 = (1 - 2 * g) / (4 * g);
  const double a41 = (6 * g - 1) / (12 * g), a42 = -1 / ((24 * g - 12) * g);
  const double a43 = (-6 * g * g + 6 * g - 1) / (6 * g - 3);
  Tableau t = rk("kvaerno3", 3, {0.0, 2 * g, 1.0, 1.0},
                 square({{0.0}, {g, g}, {a31, a32, g}, {a41, a42, a43, g}}), {a41, a42, a43, g});
  t.error_order = 2;
  t.e = minus(t.b, {a31, a32, g, 0.0});  // the embedded solution is stage 3 (also at c = 1)
  t.fsal = true;                          // stiffly accurate with c_4 = 1: k_4 = f(y_new)
  t.implicit = true;
  return t;
}

}  // namespace

}  // namespace tide

// Each tableau's stepper: the factories TIDE_SOLVER_METHODS names (stepper.hpp), one per tableau.
namespace tide::detail {
#define TIDE_RUNGE_KUTTA_METHOD(name)                                                      \
  StepperPtr make_##name##_stepper(const SolveOptions& options) {                          \
    static const Tableau t = tide::name();                                                 \
    static const Tableau torchdiffeq = tide::torchdiffeq_form(Method::name, t);            \
    return runge_kutta_stepper(Method::name, options.torchdiffeq_variant ? torchdiffeq : t, options); \
  }
TIDE_RUNGE_KUTTA_METHOD(euler)
TIDE_RUNGE_KUTTA_METHOD(midpoint)
TIDE_RUNGE_KUTTA_METHOD(heun)
TIDE_RUNGE_KUTTA_METHOD(heun3)
TIDE_RUNGE_KUTTA_METHOD(ralston)
TIDE_RUNGE_KUTTA_METHOD(rk4)
TIDE_RUNGE_KUTTA_METHOD(rk4_38)
TIDE_RUNGE_KUTTA_METHOD(heun_euler)
TIDE_RUNGE_KUTTA_METHOD(bosh3)
TIDE_RUNGE_KUTTA_METHOD(dopri5)
TIDE_RUNGE_KUTTA_METHOD(tsit5)
TIDE_RUNGE_KUTTA_METHOD(fehlberg45)
TIDE_RUNGE_KUTTA_METHOD(dop853)
TIDE_RUNGE_KUTTA_METHOD(adaptive_heun)
TIDE_RUNGE_KUTTA_METHOD(fehlberg2)
TIDE_RUNGE_KUTTA_METHOD(dopri8)
TIDE_RUNGE_KUTTA_METHOD(kvaerno3)
#undef TIDE_RUNGE_KUTTA_METHOD
}  // namespace tide::detail

namespace tide {

namespace {

// The coefficients g_k = w^T A^(k-1) 1, k = 1..S, of sum_k g_k z^k: an explicit tableau's linear
// response through the weights w (b: the stability polynomial R(z) - 1; e: the error estimate).
std::vector<double> linear_response(const Tableau& t, const std::vector<double>& w) {
  const std::size_t S = w.size();
  std::vector<double> g, v(S, 1.0);  // v = A^(k-1) 1
  for (std::size_t k = 1; k <= S; ++k) {
    double gk = 0.0;
    for (std::size_t i = 0; i < S; ++i) gk += w[i] * v[i];
    g.push_back(gk);
    std::vector<double> next(S, 0.0);
    for (std::size_t i = 0; i < S; ++i)
      for (std::size_t j = 0; j < i; ++j) next[i] += t.a[i][j] * v[j];
    v = std::move(next);
  }
  return g;
}

double at_negative(const std::vector<double>& g, double x) {  // sum_k g_k (-x)^k, by Horner
  double r = 0.0;
  for (std::size_t k = g.size(); k-- > 0;) r = (r + g[k]) * -x;
  return r;
}

// The first x in (0, end] where `crosses` turns true, scanned in steps of 0.01, then bisected;
// infinity when it stays false.
template <class Crosses>
double first_crossing(Crosses crosses, double end) {
  double hi = 0.0;
  for (double x = 0.01; x <= end + 0.01; x += 0.01)
    if (crosses(x)) {
      hi = x;
      break;
    }
  if (hi == 0.0) return HUGE_VAL;
  double lo = hi - 0.01;
  for (int it = 0; it < 60; ++it) (crosses(0.5 * (lo + hi)) ? hi : lo) = 0.5 * (lo + hi);
  return 0.5 * (lo + hi);
}

}  // namespace

double Tableau::real_stability_limit() const {
  if (implicit) return HUGE_VAL;
  const std::vector<double> g = linear_response(*this, b);
  return first_crossing([&g](double x) { return std::fabs(1.0 + at_negative(g, x)) > 1.0 + 1e-12; }, 100.0);
}

double Tableau::real_error_zero() const {
  if (implicit || e.empty()) return HUGE_VAL;
  std::vector<double> g = linear_response(*this, e);
  // both solutions match exp(z) through z^error_order (the order conditions), so those terms are
  // 0 and what is left of them is rounding, which would make false sign changes near 0
  for (std::size_t k = 0; k < g.size() && static_cast<int>(k) < std::min(order, error_order); ++k) g[k] = 0.0;
  // E(-x) = -g_1 x + ...: its sign near 0 is that of its lowest nonzero term; a zero is where
  // the sign first changes
  const double near0 = at_negative(g, 1e-3);
  if (near0 == 0.0) return HUGE_VAL;
  return first_crossing([&g, near0](double x) { return (at_negative(g, x) > 0) != (near0 > 0); }, real_stability_limit());
}

}  // namespace tide
