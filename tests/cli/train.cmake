# physml train / physml eval on a tiny synthetic data set (16x16 grid, 8 + 4 samples,
# written by the CliData.WriteTinyDataset GoogleTest case).
set(cli_train_data ${PROJECT_BINARY_DIR}/tests/data/cli_data/tiny.h5)
set(cli_train_dir ${CMAKE_CURRENT_BINARY_DIR}/train_runs)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
"model: mgno
mgno:
  channels: 4
  levels: 3
  layers: 1
x_normalizer: pointwise
y_normalizer: scalar
loss: h1_spectral
epochs: 2
batch_size: 4
lr: 1.0e-3
seed: 1
")
physml_cli_test(NAME cli.train.data COMMAND test_train --gtest_filter=CliData.WriteTinyDataset
  OUTPUT "\\[  PASSED  \\] 1 test" PROPERTIES LABELS cli FIXTURES_SETUP cli_train_data)

physml_cli_test(NAME cli.train.mgno COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
  -data ${cli_train_data} -output ${cli_train_dir}/mgno -threads 1
  OUTPUT "training mgno \\(.* parameters\\).*epoch 2 +train loss .* valid L2 "
  CREATES ${cli_train_dir}/mgno/best.h5 ${cli_train_dir}/mgno/last.h5 ${cli_train_dir}/mgno/log.csv ${cli_train_dir}/mgno/loss.png
  PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data FIXTURES_SETUP cli_train_mgno)

# Command-line options override the file: the same config trains an FNO.
physml_cli_test(NAME cli.train.fno_override COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
  -data ${cli_train_data} -output ${cli_train_dir}/fno -model fno -fno_modes 4 -fno_width 6 -epochs 1 -threads 1
  OUTPUT "training fno .*epoch 1 +train loss" CREATES ${cli_train_dir}/fno/best.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data)

# 4 channels, 3 levels, 2 layers: 1070 + 8 (first V-cycle, 1x1) + 2096 + 20 + 4 (head) parameters.
physml_cli_test(NAME cli.train.layers_override COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
  -data ${cli_train_data} -output ${cli_train_dir}/mgno2 -mgno_layers 2 -epochs 1 -threads 1
  OUTPUT "training mgno \\(3198 parameters\\).*epoch 1 +train loss" PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data)

physml_cli_test(NAME cli.eval COMMAND physml_cli eval ${cli_train_dir}/mgno/best.h5 ${cli_train_data} -split valid
  OUTPUT "4 samples at 16x16.*relative L2 +[0-9.e+-]+ +[0-9.e+-]+ +[0-9.e+-]+.*relative H1"
  PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_train_data;cli_train_mgno")

# Evaluation at another resolution (every second grid point).
physml_cli_test(NAME cli.eval.stride COMMAND physml_cli eval ${cli_train_dir}/mgno/best.h5 ${cli_train_data} -split valid
  -stride 2 -figures ${cli_train_dir}/figures
  OUTPUT "samples at 8x8" CREATES ${cli_train_dir}/figures/sample0.png ${cli_train_dir}/figures/sample0.vti PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_train_data;cli_train_mgno")

# Bad input: exit code 1, a message naming what is wrong; the input files stay as they were.
physml_cli_test(NAME cli.train.typo EXIT 1 COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
  -data ${cli_train_data} -output ${cli_train_dir}/typo -mgno_chanels 3
  OUTPUT "physml train: error: unknown or unused option.*mgno_chanels" UNCHANGED ${cli_train_data}
  PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data)

physml_cli_test(NAME cli.train.missing_data EXIT 1 COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
  -data ${cli_train_dir}/no_such_file.h5
  OUTPUT "physml train: error: data file '.*no_such_file.h5' does not exist" ABSENT ${cli_train_dir}/no_such_file.h5 PROPERTIES LABELS cli)

physml_cli_test(NAME cli.eval.not_a_checkpoint EXIT 1 COMMAND physml_cli eval ${cli_train_data} ${cli_train_data}
  OUTPUT "physml eval: error: load: '.*tiny.h5' is not a PhysML model file \\(Checkpoint\\): HDF5 file '.*tiny.h5' holds format 'physml.dataset', expected 'physml.checkpoint'" UNCHANGED ${cli_train_data} PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data)

# physml train -model dcdm on Ritz data (16x16 with a solid block, written by
# CliData.WriteTinyRitzDataset): 2D from64 has 32,657 parameters (tests/train/test_dcdm_net.cpp).
set(cli_ritz_data ${PROJECT_BINARY_DIR}/tests/data/cli_data/ritz16.h5)
physml_cli_test(NAME cli.train.ritz_data COMMAND test_train --gtest_filter=CliData.WriteTinyRitzDataset
  OUTPUT "\\[  PASSED  \\] 1 test" PROPERTIES LABELS cli FIXTURES_SETUP cli_ritz_data)
# Outputs of earlier runs (e.g. a log.csv of another format) must not leak into these runs.
physml_cli_test(NAME cli.train.dcdm_clean COMMAND ${CMAKE_COMMAND} -E rm -rf ${cli_train_dir}/dcdm ${cli_train_dir}/dcdm_resumed
  ABSENT ${cli_train_dir}/dcdm ${cli_train_dir}/dcdm_resumed PROPERTIES LABELS cli FIXTURES_SETUP cli_train_dcdm_clean)
physml_cli_test(NAME cli.train.dcdm COMMAND physml_cli train ${PROJECT_SOURCE_DIR}/examples/dcdm_poisson/dcdm2d.yaml
  -data ${cli_ritz_data} -output ${cli_train_dir}/dcdm -epochs 2 -threads 1
  OUTPUT "training dcdm \\(32657 parameters, from64\\).*grid 16x16.*epoch 2 +train loss .* valid loss .*model: .*dcdm/last.h5"
  CREATES ${cli_train_dir}/dcdm/last.h5 ${cli_train_dir}/dcdm/log.csv ${cli_train_dir}/dcdm/loss.png
  PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_ritz_data;cli_train_dcdm_clean" FIXTURES_SETUP cli_train_dcdm)
# Exact resume (weights, optimizer, epoch) of the 2-epoch run to 3 epochs, into another directory.
physml_cli_test(NAME cli.train.dcdm_resume COMMAND physml_cli train ${PROJECT_SOURCE_DIR}/examples/dcdm_poisson/dcdm2d.yaml
  -data ${cli_ritz_data} -output ${cli_train_dir}/dcdm_resumed -resume ${cli_train_dir}/dcdm/last.h5 -epochs 3 -threads 1
  OUTPUT "resumed from .*dcdm/last.h5 at epoch 2.*epoch 3 +train loss" UNCHANGED ${cli_train_dir}/dcdm/last.h5
  CREATES ${cli_train_dir}/dcdm_resumed/last.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_ritz_data;cli_train_dcdm")
# An operator Dataset is not Ritz data; an MgNO checkpoint is not a DCDM model.
physml_cli_test(NAME cli.train.dcdm_wrong_data EXIT 1 COMMAND physml_cli train -model dcdm -data ${cli_train_data}
  -output ${cli_train_dir}/dcdm_bad
  OUTPUT "physml train: error: load_ritz_dataset: '.*tiny.h5' is a Dataset of generator 'synthetic', expected 'dcdm-ritz'" UNCHANGED ${cli_train_data}
  ABSENT ${cli_train_dir}/dcdm_bad/last.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data)
physml_cli_test(NAME cli.train.dcdm_wrong_resume EXIT 1 COMMAND physml_cli train -model dcdm -data ${cli_ritz_data}
  -output ${cli_train_dir}/dcdm_bad2 -resume ${cli_train_dir}/mgno/best.h5
  OUTPUT "physml train: error: checkpoint .*mgno/best.h5 holds a '[a-z]+' model, cannot resume training a 'dcdm' model from it"
  UNCHANGED ${cli_train_dir}/mgno/best.h5 ABSENT ${cli_train_dir}/dcdm_bad2/last.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_ritz_data;cli_train_mgno")

# -help lists every object's keys with default and meaning (PETSc's format), the CONFIG's
# values as current ones, and trains nothing (no data, no output directory needed).
physml_cli_test(NAME cli.train.help COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml -help
  OUTPUT "-mgno_channels <now 4 : formerly 24>: hidden channels of every V-cycle.*-fno_width <now 32 : formerly 32>.*-dcdm_variant <now from64.*-epochs <now 2 : formerly 10>.*-schedule <now constant"
  NOT_OUTPUT "training mgno" PROPERTIES LABELS cli)
# A config's values are overridden by the command line (PETSc's own precedence).
physml_cli_test(NAME cli.train.command_line_overrides_config COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
  -mgno_channels 5 -help OUTPUT "-mgno_channels <now 5 : formerly 24>" PROPERTIES LABELS cli)
physml_cli_test(NAME cli.train.missing_output EXIT 1 COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
  -data ${cli_train_data} OUTPUT "physml train: error: missing required option -output" PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data)
physml_cli_test(NAME cli.train.missing_config EXIT 1 COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/no_such.yaml
  -data ${cli_train_data} OUTPUT "physml train: error: options file '.*no_such.yaml' cannot be opened" PROPERTIES LABELS cli)
# physml eval -help lists the evaluation and sample-selection keys with defaults, reads no file.
physml_cli_test(NAME cli.eval.help COMMAND physml_cli eval -help
  OUTPUT "-split <now test : formerly test>: split of the Dataset file to evaluate" "-stride <now 1 : formerly 1>: take every stride-th"
         "-rollout <now 0 : formerly 0>: autoregressive rollout"
  PROPERTIES LABELS cli)
