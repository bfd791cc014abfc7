// All model headers: cells, wirings, the Model interface, the sequence model and the registry.
#pragma once
#include "tide/models/cell.hpp"
#include "tide/models/cfc.hpp"
#include "tide/models/cnf.hpp"
#include "tide/models/latent_ode.hpp"
#include "tide/models/ltc.hpp"
#include "tide/models/metrics.hpp"
#include "tide/models/model.hpp"
#include "tide/models/ode_cells.hpp"
#include "tide/models/registry.hpp"
#include "tide/models/rnn_cells.hpp"
#include "tide/models/sequence_model.hpp"
#include "tide/models/wiring.hpp"
