#include "train/trainer.hpp"
#include "svg_plot.hpp"
#include "tide/autodiff/archive.hpp"
#include "tide/autodiff/grad.hpp"
#include "tide/models/registry.hpp"
#include "train/datasets.hpp"
#include "train/metrics_log.hpp"
#include "train/progress.hpp"
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>

namespace tide::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int) { interrupted = 1; }

// Ctrl-C and SIGTERM set a flag the loop checks after each step, for the life of the scope.
class InterruptScope {
public:
  InterruptScope() {
    interrupted = 0;
    old_int_ = std::signal(SIGINT, on_interrupt);
    old_term_ = std::signal(SIGTERM, on_interrupt);
  }
  ~InterruptScope() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }

private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

struct Paths {
  std::string dir, config, metrics, curves, metric_curve, checkpoint, best, summary;
  Paths(const std::string& d, const std::string& metric)
      : dir(d), config(d + "/config.json"), metrics(d + "/metrics.jsonl"), curves(d + "/curves.svg"),
        metric_curve(d + "/" + metric + ".svg"), checkpoint(d + "/checkpoint.tide"), best(d + "/best.tide"),
        summary(d + "/summary.json") {}
};

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot write", tmp);
    out << text;
    out.flush();
    if (!out) fail("{}: write failed", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fail("{}: cannot rename into place: {}", path, ec.message());
}

Tensor in_dtype(const Tensor& t, DType dtype) { return t.dtype() == dtype ? t : t.to(dtype); }

struct Built {
  LoadedData data;
  std::shared_ptr<models::SequenceModel> model;
};

Built build(const TrainConfig& config) {
  Built b{load_data(config.data, config.seed, "data"), nullptr};
  const data::SequenceSet& train = b.data.split.train;
  Generator gen(config.seed);
  b.model = std::make_shared<models::SequenceModel>(models::make_cell(config.model, train.features(), gen, config.dtype, "model"),
                                                    train.outputs(), gen);
  return b;
}

void write_curves(const Paths& paths, const std::vector<json>& records, const std::string& metric, const std::string& title) {
  Plot loss{title + ": loss per epoch", "epoch", "loss", true, {{"train", {}, {}}, {"val", {}, {}, true}}};
  Plot m{title + ": " + metric + " per epoch", "epoch", metric, metric == "mse", {{"train", {}, {}}, {"val", {}, {}, true}}};
  for (const json& r : records) {
    const double e = r.at("epoch").get<double>();
    loss.series[0].x.push_back(e), loss.series[0].y.push_back(r.at("train_loss").get<double>());
    loss.series[1].x.push_back(e), loss.series[1].y.push_back(r.at("val_loss").get<double>());
    m.series[0].x.push_back(e), m.series[0].y.push_back(r.at("train_" + metric).get<double>());
    m.series[1].x.push_back(e), m.series[1].y.push_back(r.at("val_" + metric).get<double>());
  }
  write_svg(paths.curves, loss);
  write_svg(paths.metric_curve, m);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::string metric_name(const data::SequenceSet& set) { return set.task == data::Task::classification ? "accuracy" : "mse"; }
bool higher_is_better(const data::SequenceSet& set) { return set.task == data::Task::classification; }

Var sequence_loss(const models::SequenceModel& model, const data::SequenceSet& batch) {
  const DType dtype = model.cell().dtype();
  const Var out = model(Var(in_dtype(batch.x, dtype)), batch.dt, batch.mask);
  return batch.task == data::Task::classification ? models::masked_cross_entropy(out, batch.y, batch.mask)
                                                  : models::masked_mse(out, in_dtype(batch.y, dtype), batch.mask);
}

Scores evaluate(const models::SequenceModel& model, const data::SequenceSet& set, std::int64_t batch_size) {
  NoGrad no_grad;
  Scores s;
  double loss_sum = 0, metric = 0, count = 0;
  const DType dtype = model.cell().dtype();
  for (std::int64_t begin = 0; begin < set.size(); begin += batch_size) {
    const data::SequenceSet b = set.slice(begin, std::min(set.size(), begin + batch_size));
    const Tensor out = model(Var(in_dtype(b.x, dtype)), b.dt, b.mask).value();
    const models::MetricSums m = b.task == data::Task::classification ? models::correct_predictions(out, b.y, b.mask)
                                                                      : models::squared_error(out, b.y, b.mask);
    const double loss = b.task == data::Task::classification
                            ? models::masked_cross_entropy(Var(out), b.y, b.mask).item()
                            : models::masked_mse(Var(out), in_dtype(b.y, dtype), b.mask).item();
    loss_sum += loss * static_cast<double>(b.size());
    metric += m.value, count += m.count;
  }
  s.sequences = set.size();
  s.loss = loss_sum / static_cast<double>(std::max<std::int64_t>(1, set.size()));
  s.metric = count > 0 ? metric / count : 0.0;
  return s;
}

int run_training(const TrainConfig& config, const TrainOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  Built built = build(config);
  const data::Split& split = built.data.split;
  models::SequenceModel& model = *built.model;
  const std::string metric = metric_name(split.train);
  const bool higher = higher_is_better(split.train);
  const Paths paths(options.out_dir.empty() ? "runs/" + config.name : options.out_dir, metric);
  std::error_code ec;
  fs::create_directories(paths.dir, ec);
  if (ec) fail("{}: cannot create the run directory: {}", paths.dir, ec.message());

  std::vector<Var> params = model.parameters();
  std::unique_ptr<Optimizer> optimizer = make_optimizer(config.optimizer, params);
  const std::int64_t n = split.train.size(), bs = config.batch_size;
  const std::int64_t steps_per_epoch = (n + bs - 1) / bs;

  // Position and running sums; a resume restores them from the checkpoint.
  std::int64_t epoch = 0, batch = 0, global_step = 0, best_epoch = -1, records_written = 0;
  double best_val = higher ? -INFINITY : INFINITY, loss_sum = 0, metric_sum = 0, metric_count = 0, seen = 0;
  std::vector<json> records;
  if (options.resume) {
    if (!fs::exists(paths.checkpoint)) fail("--resume: no checkpoint at {}", paths.checkpoint);
    const Archive a = load_archive(paths.checkpoint);
    const json meta = parse_json_text(a.meta_json, paths.checkpoint + " (metadata)");
    if (meta.at("config") != config.raw)
      fail("--resume: the config differs from the one {} was written with ({}); start a new run or restore it",
           paths.checkpoint, paths.config);
    load_module(a, "model.", model);
    load_optimizer(a, "optimizer.", *optimizer);
    epoch = meta.at("epoch"), batch = meta.at("batch"), global_step = meta.at("global_step");
    best_epoch = meta.at("best_epoch"), records_written = meta.at("records");
    best_val = best_epoch < 0 ? best_val : meta.at("best_val").get<double>();
    loss_sum = meta.at("loss_sum"), metric_sum = meta.at("metric_sum"), metric_count = meta.at("metric_count"), seen = meta.at("seen");
    std::vector<json> all = fs::exists(paths.metrics) ? read_metrics(paths.metrics) : std::vector<json>{};
    if (static_cast<std::int64_t>(all.size()) < records_written)
      fail("--resume: {} holds {} records but the checkpoint counts {}", paths.metrics, all.size(), records_written);
    records.assign(all.begin(), all.begin() + records_written);
    std::string kept;
    for (const json& r : records) kept += r.dump() + "\n";
    write_text_atomically(paths.metrics, kept);  // records after the checkpoint are written again
  } else {
    write_text_atomically(paths.metrics, "");
  }
  write_text_atomically(paths.config, config.raw.dump(2) + "\n");
  MetricsLog log;
  log.open(paths.metrics, true);

  auto save_checkpoint = [&] {
    Archive a;
    add_module(a, "model.", model);
    add_optimizer(a, "optimizer.", *optimizer);
    json meta = {{"format", "tide train checkpoint"}, {"version", 1}, {"config", config.raw}, {"epoch", epoch},
                 {"batch", batch}, {"global_step", global_step}, {"best_epoch", best_epoch}, {"records", records_written},
                 {"loss_sum", loss_sum}, {"metric_sum", metric_sum}, {"metric_count", metric_count}, {"seen", seen}};
    if (best_epoch >= 0) meta["best_val"] = best_val;
    a.meta_json = meta.dump();
    save_archive(paths.checkpoint, a);
  };

  if (!options.quiet)
    std::fprintf(options.progress, "tide train %s: %s\nmodel %s, %lld parameters; %s, lr %g, %lld epochs of %lld steps; writing %s\n",
                 config.name.c_str(), built.data.description.c_str(), model.cell().name().c_str(),
                 static_cast<long long>(model.parameter_count()), config.optimizer.type.c_str(), config.optimizer.lr,
                 static_cast<long long>(config.epochs), static_cast<long long>(steps_per_epoch), paths.dir.c_str());
  ProgressOptions po;
  po.start_step = global_step;
  std::unique_ptr<Progress> progress;
  if (!options.quiet)  // new T(prvalue) constructs in place: Progress is neither copyable nor movable
    progress.reset(new Progress(Progress::for_stream(options.progress, config.epochs * steps_per_epoch, config.name, po)));
  InterruptScope interrupts;
  std::int64_t steps_this_run = 0;
  bool stopped = false;
  for (; epoch < config.epochs && !stopped; ++epoch, batch = 0) {
    const std::vector<std::int64_t> order = data::permutation(n, config.seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
    for (; batch < steps_per_epoch; ++batch) {
      const std::vector<std::int64_t> idx(order.begin() + batch * bs, order.begin() + std::min(n, (batch + 1) * bs));
      const data::SequenceSet b = split.train.subset(idx);
      optimizer->set_learning_rate(config.learning_rate(epoch, batch, steps_per_epoch));
      optimizer->zero_grad();
      const DType dtype = model.cell().dtype();
      Tensor dt = b.dt;
      if (config.steer > 0) {  // STEER, per interval: a seeded draw per step, so --resume repeats it
        Generator g(config.seed ^ 0x5354454552ULL);
        g.set_stream(static_cast<std::uint64_t>(global_step));
        dt = tide::mul(dt, g.uniform(dt.shape(), 1.0 - config.steer, 1.0 + config.steer, dt.dtype()));
      }
      models::RegularisationScope regularisation(models::OdeRegularisation{.kinetic = config.kinetic});
      const Var out = model(Var(in_dtype(b.x, dtype)), dt, b.mask);
      Var loss = b.task == data::Task::classification ? models::masked_cross_entropy(out, b.y, b.mask)
                                                      : models::masked_mse(out, in_dtype(b.y, dtype), b.mask);
      if (regularisation.total().defined()) loss = loss + mean(regularisation.total());
      const double loss_value = loss.item();
      if (!std::isfinite(loss_value))
        fail("training diverged: the loss is {} at epoch {} step {} (lower the learning rate or set grad_clip)", loss_value, epoch + 1, batch + 1);
      backward(loss);
      if (config.grad_clip > 0) clip_grad_norm(params, config.grad_clip);
      optimizer->step();
      const models::MetricSums m = b.task == data::Task::classification ? models::correct_predictions(out.value(), b.y, b.mask)
                                                                        : models::squared_error(out.value(), b.y, b.mask);
      loss_sum += loss_value * static_cast<double>(b.size()), seen += static_cast<double>(b.size());
      metric_sum += m.value, metric_count += m.count;
      ++global_step, ++steps_this_run;
      if (progress) progress->update(global_step, {{"loss", loss_sum / seen}, {metric, metric_count > 0 ? metric_sum / metric_count : 0.0}});
      const bool stop = interrupted || (options.max_steps > 0 && steps_this_run >= options.max_steps);
      if (stop || (config.checkpoint_every > 0 && global_step % config.checkpoint_every == 0 && batch + 1 < steps_per_epoch)) {
        ++batch;  // the checkpoint resumes after this step
        save_checkpoint();
        --batch;
      }
      if (stop) {
        stopped = true;
        break;
      }
    }
    if (stopped) break;
    // End of epoch: validation, the record, the best model, the checkpoint and the curves.
    const Scores val = evaluate(model, split.val, config.eval_batch_size);
    json record = {{"epoch", epoch + 1}, {"step", global_step}, {"lr", optimizer->learning_rate()},
                   {"train_loss", loss_sum / seen}, {"train_" + metric, metric_count > 0 ? metric_sum / metric_count : 0.0},
                   {"val_loss", val.loss}, {"val_" + metric, val.metric}, {"seconds", seconds_since(t0)}};
    log.write(record);
    records.push_back(record);
    ++records_written;
    if (higher ? val.metric > best_val : val.metric < best_val) {
      best_val = val.metric, best_epoch = epoch + 1;
      Archive a;
      add_module(a, "model.", model);
      a.meta_json = json{{"epoch", best_epoch}, {"val_" + metric, val.metric}, {"val_loss", val.loss}}.dump();
      save_archive(paths.best, a);
    }
    loss_sum = metric_sum = metric_count = seen = 0;
    batch = 0;
    ++epoch;
    save_checkpoint();
    --epoch;
    write_curves(paths, records, metric, config.name);
  }
  if (stopped) {
    if (progress) progress->finish();
    std::fprintf(stderr, "%s: checkpoint written to %s after %lld steps; continue with --resume\n",
                 interrupted ? "interrupted" : "stopped (--max-steps)", paths.checkpoint.c_str(), static_cast<long long>(global_step));
    return interrupted ? 130 : 0;
  }
  if (progress) progress->finish();
  // The test score of the best-validation parameters.
  if (best_epoch >= 0) load_module(load_archive(paths.best), "model.", model);
  const Scores test = evaluate(model, split.test, config.eval_batch_size);
  const Scores val = evaluate(model, split.val, config.eval_batch_size);
  const json summary = {{"name", config.name}, {"data", built.data.description}, {"model", model.cell().name()},
                        {"parameters", model.parameter_count()}, {"seed", config.seed}, {"epochs", config.epochs},
                        {"steps", global_step}, {"best_epoch", best_epoch}, {"metric", metric},
                        {"val", {{"loss", val.loss}, {metric, val.metric}}},
                        {"test", {{"loss", test.loss}, {metric, test.metric}, {"sequences", test.sequences}}},
                        {"seconds", seconds_since(t0)},
                        {"files", {{"metrics", paths.metrics}, {"curves", paths.curves}, {"metric_curve", paths.metric_curve},
                                   {"checkpoint", paths.checkpoint}, {"best", paths.best}, {"summary", paths.summary}}}};
  write_text_atomically(paths.summary, summary.dump(2) + "\n");
  std::printf("%s\n", summary.dump(2).c_str());
  return 0;
}

json evaluate_run(const std::string& run_dir, const std::string& split_name, bool last) {
  const TrainConfig config = load_train_config(run_dir + "/config.json");
  Built built = build(config);
  const std::string path = run_dir + (last ? "/checkpoint.tide" : "/best.tide");
  load_module(load_archive(path), "model.", *built.model);
  const data::Split& s = built.data.split;
  const data::SequenceSet& set = split_name == "train" ? s.train : split_name == "val" ? s.val : s.test;
  const Scores scores = evaluate(*built.model, set, config.eval_batch_size);
  const std::string metric = metric_name(set);
  return {{"run", run_dir}, {"parameters_from", path}, {"split", split_name}, {"sequences", scores.sequences},
          {"loss", scores.loss}, {metric, scores.metric}};
}

}  // namespace tide::cli
