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
# each row of a --data file's predictions says the time of its row in the file, to join it back by
file(STRINGS "${WORK}/all.csv" lines LIMIT_COUNT 2)
list(GET lines 0 header)
list(GET lines 1 first)
if(NOT header STREQUAL "example,step,label,predicted,p_0,p_1,time" OR NOT first MATCHES "^0,0,0,[01],[^,]*,[^,]*,2026-03-02 00:00:00$")
  message(FATAL_ERROR "predict --data: the first rows do not name the file's time: ${lines}")
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
# and so by eval, as predict, which loads the same way (they blamed the data: "put the data back as it was")
run_tide(1 eval "${WORK}/resumed" --params "${WORK}/gru/best.tide")
if(NOT err MATCHES "is not one of this run's model's" OR err MATCHES "put the data back")
  message(FATAL_ERROR "eval of another model's parameters: ${err}")
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

# new data to forecast: --data without the target column predicts every row, with no label column
file(READ examples/data/sensor_occupancy.csv text)
string(REGEX REPLACE ",[^,\n]*\n" "\n" text "${text}")
file(WRITE "${WORK}/unlabelled.csv" "${text}")
run_tide(0 predict "${WORK}/resumed" --data "${WORK}/unlabelled.csv" --out "${WORK}/forecast.csv")
file(STRINGS "${WORK}/forecast.csv" lines LIMIT_COUNT 1)
if(NOT lines STREQUAL "example,step,predicted,p_0,p_1,time" OR NOT out MATCHES "\"targets\": \"absent\"")
  message(FATAL_ERROR "predict --data without the target column: ${lines}\n${out}\n${err}")
endif()

# the run records its data files: an edited one is named on eval; from another directory the
# relative data path's error names the directory the run was trained in
if(NOT EXISTS "${WORK}/resumed/data_files.json")
  message(FATAL_ERROR "the run wrote no data_files.json")
endif()
execute_process(COMMAND "${TIDE}" eval resumed WORKING_DIRECTORY "${WORK}" RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(NOT rc EQUAL 1 OR NOT err MATCHES "data.path \"examples/data/sensor_occupancy.csv\" is relative to the current directory \\([^)]*\\); the run was trained in ")
  message(FATAL_ERROR "eval from another directory: exit ${rc}: ${err}")
endif()
file(COPY examples/data/sensor_occupancy.csv DESTINATION "${WORK}/edited/examples/data")
file(APPEND "${WORK}/edited/examples/data/sensor_occupancy.csv" "\"9999\",\"2026-03-09 00:00:00\",20.5,27.0,3.0,430.0,0\n")
file(COPY "${WORK}/resumed" DESTINATION "${WORK}/edited")
execute_process(COMMAND "${TIDE}" eval resumed WORKING_DIRECTORY "${WORK}/edited" RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(NOT rc EQUAL 0 OR NOT err MATCHES "warning: examples/data/sensor_occupancy.csv \\(data.path\\) has changed since the run was trained")
  message(FATAL_ERROR "eval on an edited training file: exit ${rc}: ${err}")
endif()

# a config, a missing directory or a run directory, each given where the other is expected: said so
# (they were "c.json/config.json: cannot open the config file" and "invalid JSON ... unexpected end of input")
run_tide(1 eval ${config})
if(NOT err MATCHES "tide eval takes a run directory that `tide train` wrote; [^ ]*sensor_occupancy.json is a file")
  message(FATAL_ERROR "eval of a config file: ${err}")
endif()
run_tide(1 predict "${WORK}/nope" --out "${WORK}/p.csv")
if(NOT err MATCHES "nope: no such run directory")
  message(FATAL_ERROR "predict of a missing run: ${err}")
endif()
run_tide(1 train "${WORK}/resumed")
if(NOT err MATCHES "tide train takes a CONFIG.json file; [^ ]*resumed is a directory \\(a run's: ")
  message(FATAL_ERROR "train of a run directory: ${err}")
endif()

# a file of several sequences (an id column, irregular times), a sequence's one label ("per_step":
# false) and a row left out by "missing": "drop": predict --data writes step -1 (the docs' word; it
# wrote the last valid step's index), and each row's sequence id and time as the file has them, so
# the windows, which restart per sequence, join back to their rows; the dropped row is noted by line
file(WRITE "${WORK}/seqs.csv" "id,t,x,y\ns1,0.0,0.1,lo\ns1,0.5,0.2,lo\ns2,0.0,1.0,hi\ns1,1.5,0.3,lo\ns1,2.0,0.4,lo\n"
     "s2,0.7,NA,hi\ns2,1.0,1.1,hi\ns3,0.0,0.5,lo\ns3,0.1,0.6,lo\ns4,0.0,1.5,hi\ns4,0.2,1.4,hi\ns5,0.0,0.2,lo\n"
     "s5,0.3,0.1,lo\ns6,0.0,1.2,hi\ns6,0.4,1.3,hi\n")
file(WRITE "${WORK}/seqs.json" "{\"name\": \"seqs\", \"epochs\": 1, \"batch_size\": 4, \"model\": {\"type\": \"gru\", \"hidden\": 4},
  \"data\": {\"dataset\": \"csv\", \"path\": \"${WORK}/seqs.csv\", \"id_column\": \"id\", \"time_column\": \"t\",
             \"features\": [\"x\"], \"targets\": \"y\", \"window\": 3, \"per_step\": false, \"missing\": \"drop\",
             \"val_fraction\": 0.2, \"test_fraction\": 0.2}}")
run_tide(0 train "${WORK}/seqs.json" --out "${WORK}/seqs" --quiet)
run_tide(0 predict "${WORK}/seqs" --data "${WORK}/seqs.csv" --out "${WORK}/seqs_pred.csv")
file(STRINGS "${WORK}/seqs_pred.csv" lines)
set(expected "example,step,label,predicted,p_hi,p_lo,id,time" "0,-1,lo,s1,1.5" "1,-1,lo,s1,2.0" "2,-1,hi,s2,1.0"
    "3,-1,lo,s3,0.1" "4,-1,hi,s4,0.2" "5,-1,lo,s5,0.3" "6,-1,hi,s6,0.4")
list(LENGTH lines n)
list(LENGTH expected n_expected)
if(NOT n EQUAL n_expected)
  message(FATAL_ERROR "predict --data of several sequences: ${n} lines, expected ${n_expected}: ${lines}")
endif()
foreach(i RANGE 1 7)
  list(GET lines ${i} line)
  list(GET expected ${i} want)
  string(REGEX REPLACE "^([^,]*,[^,]*,[^,]*),(hi|lo),[^,]*,[^,]*," "\\1," line "${line}")  # the predicted class and the probabilities
  if(NOT line STREQUAL want)
    message(FATAL_ERROR "predict --data of several sequences, row ${i}: '${line}', expected '${want}'")
  endif()
endforeach()
list(GET lines 0 header)
if(NOT header STREQUAL "example,step,label,predicted,p_hi,p_lo,id,time")
  message(FATAL_ERROR "predict --data of several sequences: header ${header}")
endif()
if(NOT err MATCHES "note: [^\n]*seqs.csv: 1 of its 15 data rows have no prediction: \"missing\": \"drop\" left out [^\n]*\\(lines 7\\)")
  message(FATAL_ERROR "predict --data with a dropped row: no note naming it: ${err}")
endif()
# without an id or time column the time is the row's position in the file, dropped rows counted
file(READ "${WORK}/seqs.json" text)
string(REPLACE "\"id_column\": \"id\", \"time_column\": \"t\"," "" text "${text}")
string(REPLACE "\"window\": 3, \"per_step\": false" "\"window\": 2, \"per_step\": true" text "${text}")
file(WRITE "${WORK}/rows.json" "${text}")
run_tide(0 train "${WORK}/rows.json" --out "${WORK}/rows" --quiet)
run_tide(0 predict "${WORK}/rows" --data "${WORK}/seqs.csv" --out "${WORK}/rows_pred.csv")
file(STRINGS "${WORK}/rows_pred.csv" lines)
list(LENGTH lines n)
list(GET lines 0 header)
list(GET lines 5 fifth)
list(GET lines 6 sixth)
if(NOT n EQUAL 15 OR NOT header MATCHES ",time$" OR NOT fifth MATCHES "^2,0,[^\n]*,4$" OR NOT sixth MATCHES "^2,1,[^\n]*,6$")
  message(FATAL_ERROR "predict --data without an id or time column: ${lines}")
endif()

# export records the class order (the model's outputs, in summary.json's order) in its metadata
run_tide(0 export "${WORK}/seqs" --out "${WORK}/seqs.safetensors")
file(STRINGS "${WORK}/seqs.safetensors" meta REGEX "__metadata__")
if(NOT meta MATCHES [=[\\"class_names\\":\[\\"hi\\",\\"lo\\"\]]=])
  message(FATAL_ERROR "export: no class_names [hi, lo] in the metadata: ${meta}")
endif()
