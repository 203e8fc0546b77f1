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
add_test(NAME cli.train.data COMMAND test_train --gtest_filter=CliData.WriteTinyDataset)
set_tests_properties(cli.train.data PROPERTIES LABELS cli FIXTURES_SETUP cli_train_data)

add_test(NAME cli.train.mgno COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
         -data ${cli_train_data} -output ${cli_train_dir}/mgno -threads 1)
set_tests_properties(cli.train.mgno PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data
  FIXTURES_SETUP cli_train_mgno PASS_REGULAR_EXPRESSION "training mgno \\(.* parameters\\).*epoch 2 +train loss .* valid L2 ")

# Command-line options override the file: the same config trains an FNO.
add_test(NAME cli.train.fno_override COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
         -data ${cli_train_data} -output ${cli_train_dir}/fno -model fno -fno_modes 4 -fno_width 6 -epochs 1 -threads 1)
set_tests_properties(cli.train.fno_override PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data
  PASS_REGULAR_EXPRESSION "training fno .*epoch 1 +train loss")

# 4 channels, 3 levels, 2 layers: 1070 + 8 (first V-cycle, 1x1) + 2096 + 20 + 4 (head) parameters.
add_test(NAME cli.train.layers_override COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
         -data ${cli_train_data} -output ${cli_train_dir}/mgno2 -mgno_layers 2 -epochs 1 -threads 1)
set_tests_properties(cli.train.layers_override PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data
  PASS_REGULAR_EXPRESSION "training mgno \\(3198 parameters\\).*epoch 1 +train loss")

add_test(NAME cli.eval COMMAND physml_cli eval ${cli_train_dir}/mgno/best.h5 ${cli_train_data} -split valid)
set_tests_properties(cli.eval PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_train_data;cli_train_mgno"
  PASS_REGULAR_EXPRESSION "4 samples at 16x16.*relative L2 +[0-9.e+-]+ +[0-9.e+-]+ +[0-9.e+-]+.*relative H1")

# Evaluation at another resolution (every second grid point).
add_test(NAME cli.eval.stride COMMAND physml_cli eval ${cli_train_dir}/mgno/best.h5 ${cli_train_data} -split valid -stride 2 -figures ${cli_train_dir}/figures)
set_tests_properties(cli.eval.stride PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_train_data;cli_train_mgno"
  PASS_REGULAR_EXPRESSION "samples at 8x8")

add_test(NAME cli.train.typo COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
         -data ${cli_train_data} -output ${cli_train_dir}/typo -mgno_chanels 3)
set_tests_properties(cli.train.typo PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data
  PASS_REGULAR_EXPRESSION "unknown or unused option.*mgno_chanels")

add_test(NAME cli.train.missing_data COMMAND physml_cli train ${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
         -data ${cli_train_dir}/no_such_file.h5)
set_tests_properties(cli.train.missing_data PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "no_such_file.h5")

add_test(NAME cli.eval.not_a_checkpoint COMMAND physml_cli eval ${cli_train_data} ${cli_train_data})
set_tests_properties(cli.eval.not_a_checkpoint PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data
  PASS_REGULAR_EXPRESSION "physml eval: error: .*tiny.h5")

# physml train -model dcdm on Ritz data (16x16 with a solid block, written by
# CliData.WriteTinyRitzDataset): 2D from64 has 32,657 parameters (tests/train/test_dcdm_net.cpp).
set(cli_ritz_data ${PROJECT_BINARY_DIR}/tests/data/cli_data/ritz16.h5)
add_test(NAME cli.train.ritz_data COMMAND test_train --gtest_filter=CliData.WriteTinyRitzDataset)
set_tests_properties(cli.train.ritz_data PROPERTIES LABELS cli FIXTURES_SETUP cli_ritz_data)
add_test(NAME cli.train.dcdm COMMAND physml_cli train ${PROJECT_SOURCE_DIR}/examples/dcdm_poisson/dcdm2d.yaml
         -data ${cli_ritz_data} -output ${cli_train_dir}/dcdm -epochs 2 -threads 1)
set_tests_properties(cli.train.dcdm PROPERTIES LABELS cli FIXTURES_REQUIRED cli_ritz_data FIXTURES_SETUP cli_train_dcdm
  PASS_REGULAR_EXPRESSION "training dcdm \\(32657 parameters, from64\\).*grid 16x16.*epoch 2 +train loss .* valid loss .*model: .*dcdm/last.h5")
# Resume from the saved weights; the result is a loadable dcdm model for `physml info`.
add_test(NAME cli.train.dcdm_resume COMMAND physml_cli train -model dcdm -data ${cli_ritz_data}
         -output ${cli_train_dir}/dcdm_resumed -resume ${cli_train_dir}/dcdm/last.h5 -epochs 1 -threads 1)
set_tests_properties(cli.train.dcdm_resume PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_ritz_data;cli_train_dcdm"
  PASS_REGULAR_EXPRESSION "resumed from .*dcdm/last.h5.*epoch 1 +train loss")
# An operator Dataset is not Ritz data; an MgNO checkpoint is not a DCDM model.
add_test(NAME cli.train.dcdm_wrong_data COMMAND physml_cli train -model dcdm -data ${cli_train_data} -output ${cli_train_dir}/dcdm_bad)
set_tests_properties(cli.train.dcdm_wrong_data PROPERTIES LABELS cli FIXTURES_REQUIRED cli_train_data
  PASS_REGULAR_EXPRESSION "generator .*expected 'dcdm-ritz'")
add_test(NAME cli.train.dcdm_wrong_resume COMMAND physml_cli train -model dcdm -data ${cli_ritz_data}
         -output ${cli_train_dir}/dcdm_bad2 -resume ${cli_train_dir}/mgno/best.h5)
set_tests_properties(cli.train.dcdm_wrong_resume PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_ritz_data;cli_train_mgno"
  PASS_REGULAR_EXPRESSION "holds a model of type '[a-z]+', expected type 'dcdm'")
