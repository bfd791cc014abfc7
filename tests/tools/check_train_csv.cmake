# `tide train` on the CSV the repo ships (examples/configs/csv/sensor_occupancy.json): an imbalanced
# binary task selected by validation F1 with balanced class weights, whose validation part holds
# both classes (one that does not is warned about, or refused for auc); the summary reports the
# classification report; a finished run is not overwritten without --overwrite; --resume keeps the
# --epochs the run started with; `tide predict` writes per-step probabilities; `tide export`
# writes safetensors that `tide eval --params` loads back, without the run's data, and refuses another
# model's parameters. Run from the project root with
# -DTIDE=<tide> -DWORK=<scratch dir>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/train_cli.cmake")
set(config examples/configs/csv/sensor_occupancy.json)

run_tide(0 train ${config} --out "${WORK}/occ" --epochs 2 --quiet)
string(JSON metric GET "${out}" metric)
if(NOT metric STREQUAL "f1")
  message(FATAL_ERROR "the run selects by '${metric}', the config says best_metric f1")
endif()
foreach(key f1 auc pr_auc precision recall balanced_accuracy f1_macro)
  string(JSON value ERROR_VARIABLE missing GET "${out}" test ${key})
  if(missing OR value LESS 0 OR value GREATER 1)
    message(FATAL_ERROR "summary.test.${key}: '${value}' ${missing}")
  endif()
endforeach()
# the validation part holds both classes, so validation F1 can choose an epoch (with overlapping
# windows the log was split by time and the validation rows were all class 0: F1 0 in every epoch)
string(JSON val_positives GET "${out}" val per_class 1 support)
if(NOT val_positives GREATER 0 OR err MATCHES "warning")
  message(FATAL_ERROR "the shipped example's validation part has ${val_positives} positive steps: ${err}")
endif()
string(JSON rows LENGTH "${out}" test confusion)
string(JSON classes LENGTH "${out}" test per_class)
string(JSON weights LENGTH "${out}" class_weights)
if(NOT rows EQUAL 2 OR NOT classes EQUAL 2 OR NOT weights EQUAL 2)
  message(FATAL_ERROR "expected a 2x2 confusion matrix, 2 per-class entries and 2 class weights: ${out}")
endif()

# a validation part of one class: a warning naming the metric for f1, an error saying so for auc
file(READ ${config} text)
string(REPLACE "\"stride\": 32" "\"stride\": 16" text "${text}")
string(REGEX REPLACE ",[ \n]*\"val_fraction\": 0.2, \"test_fraction\": 0.2" "" text "${text}")
file(WRITE "${WORK}/by_time.json" "${text}")
run_tide(0 train "${WORK}/by_time.json" --out "${WORK}/by_time" --epochs 1 --quiet)
if(NOT err MATCHES "warning: the validation split's labels hold class '0' only \\([0-9]+ predictions\\), so its f1, which picks best.tide, is undefined")
  message(FATAL_ERROR "no warning for a one-class validation part selected by f1: ${err}")
endif()
string(REPLACE "\"best_metric\": \"f1\"" "\"best_metric\": \"auc\"" text "${text}")
file(WRITE "${WORK}/by_time_auc.json" "${text}")
run_tide(1 train "${WORK}/by_time_auc.json" --out "${WORK}/by_time_auc" --epochs 1 --quiet)
if(NOT err MATCHES "best_metric: 'auc' is undefined on the validation split: its labels hold class '0' only")
  message(FATAL_ERROR "auc on a one-class validation part: ${err}")
endif()

run_tide(1 train ${config} --out "${WORK}/occ" --epochs 2 --quiet)
if(NOT err MATCHES "holds a run already \\(finished: summary.json\\); --resume continues it, --overwrite starts it over")
  message(FATAL_ERROR "a second run into a finished run's directory: ${err}")
endif()
run_tide(0 train ${config} --out "${WORK}/occ" --epochs 1 --quiet --overwrite)
string(JSON epochs GET "${out}" epochs)
if(NOT epochs EQUAL 1)
  message(FATAL_ERROR "--overwrite: the new run trained ${epochs} epochs, not 1")
endif()

# stopped after 3 steps, resumed without repeating --epochs 2: the run keeps its 2 epochs
run_tide(0 train ${config} --out "${WORK}/resumed" --epochs 2 --max-steps 3 --quiet)
run_tide(0 train ${config} --out "${WORK}/resumed" --resume --quiet)
string(JSON epochs GET "${out}" epochs)
if(NOT epochs EQUAL 2)
  message(FATAL_ERROR "--resume forgot --epochs 2 (ran ${epochs})")
endif()

run_tide(0 predict "${WORK}/resumed" --out "${WORK}/predictions.csv")
file(STRINGS "${WORK}/predictions.csv" lines LIMIT_COUNT 2)
list(GET lines 0 header)
if(NOT header STREQUAL "example,step,label,predicted,p_0,p_1")
  message(FATAL_ERROR "predictions.csv header: ${header}")
endif()
run_tide(0 predict "${WORK}/resumed" --data examples/data/sensor_occupancy.csv --out "${WORK}/all.csv")
string(JSON rows GET "${out}" rows)
if(rows LESS 1000)
  message(FATAL_ERROR "--data: ${rows} predictions for the whole file")
endif()

# the probabilities to 9 significant digits (an f32 exactly), so scores recomputed from the file are
# tide eval's: some have more than 6
file(READ "${WORK}/predictions.csv" text)
if(NOT text MATCHES ",0\\.0*[1-9][0-9][0-9][0-9][0-9][0-9][0-9]")
  message(FATAL_ERROR "predictions.csv: no probability with more than 6 significant digits")
endif()
# a problem in the --data file is reported as the --data file's, not as the run's config's data
file(WRITE "${WORK}/header_only.csv" "date,temperature,humidity,light,co2,occupied\n")
foreach(new_file "${WORK}/no_such.csv" "${WORK}/header_only.csv")
  run_tide(1 predict "${WORK}/resumed" --data "${new_file}" --out "${WORK}/none.csv")
  if(NOT err MATCHES "resumed: reading --data [^ ]*${new_file} \\(with the training data" OR err MATCHES "as its config.json says")
    message(FATAL_ERROR "predict --data ${new_file}: ${err}")
  endif()
endforeach()

run_tide(0 export "${WORK}/resumed" --out "${WORK}/model.safetensors")
run_tide(0 eval "${WORK}/resumed")
string(JSON f1_best GET "${out}" f1)
run_tide(0 eval "${WORK}/resumed" --params "${WORK}/model.safetensors")
string(JSON f1_exported GET "${out}" f1)
if(NOT f1_best EQUAL f1_exported)
  message(FATAL_ERROR "the exported parameters score f1 ${f1_exported}, best.tide ${f1_best}")
endif()

# export reads the parameter file alone: from a directory where the run's data path does not resolve
# it writes the same tensors; parameters of another model (--params) are refused
execute_process(COMMAND "${TIDE}" export resumed --out away.tide WORKING_DIRECTORY "${WORK}" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "export without the run's data: exit ${rc}: ${err}")
endif()
run_tide(0 eval "${WORK}/resumed" --params "${WORK}/away.tide")
string(JSON f1_away GET "${out}" f1)
if(NOT f1_best EQUAL f1_away)
  message(FATAL_ERROR "the parameters exported without the data score f1 ${f1_away}, best.tide ${f1_best}")
endif()
file(WRITE "${WORK}/gru.json" [=[{"name": "g", "epochs": 1, "data": {"dataset": "xor", "train": 64, "test": 16}, "model": {"type": "gru", "hidden": 4}}]=])
run_tide(0 train "${WORK}/gru.json" --out "${WORK}/gru" --quiet)
run_tide(1 export "${WORK}/resumed" --params "${WORK}/gru/best.tide" --out "${WORK}/other.safetensors")
if(NOT err MATCHES "is not one of this run's model's")
  message(FATAL_ERROR "export of another model's parameters: ${err}")
endif()

# --epochs takes what a run's config.json may hold, so a run started with it can be scored
run_tide(2 train "${WORK}/gru.json" --out "${WORK}/many" --epochs 1000001 --quiet)
if(NOT err MATCHES "--epochs takes an integer in 1..1000000, got '1000001'")
  message(FATAL_ERROR "--epochs beyond a config's bound: ${err}")
endif()
run_tide(0 train "${WORK}/gru.json" --out "${WORK}/many" --epochs 1000000 --max-steps 1 --quiet)
run_tide(0 eval "${WORK}/many" --last)

file(WRITE "${WORK}/twice.json" [=[{"name": "t", "epochs": 1, "data": {"dataset": "xor"}, "model": {"type": "gru"}, "epochs": 2}]=])
run_tide(1 train "${WORK}/twice.json" --out "${WORK}/twice")
if(NOT err MATCHES "key 'epochs' appears twice")
  message(FATAL_ERROR "a config with a key twice: ${err}")
endif()
