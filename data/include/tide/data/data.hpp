// All data headers: the sequence and vector formats, the examples and datasets the trainer
// consumes, the dataset registry and each loader.
#pragma once
#include "tide/data/config_object.hpp"
#include "tide/data/csv.hpp"
#include "tide/data/examples.hpp"
#include "tide/data/gesture.hpp"
#include "tide/data/idx.hpp"
#include "tide/data/irregular.hpp"
#include "tide/data/person_activity.hpp"
#include "tide/data/registry.hpp"
#include "tide/data/sequence_set.hpp"
#include "tide/data/shared_data.hpp"
#include "tide/data/traffic.hpp"
#include "tide/data/vectors.hpp"
#include "tide/data/xor.hpp"
