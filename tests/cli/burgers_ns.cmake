# physml train / eval on 1-D data (tiny Burgers from `physml generate burgers`) and on one-step
# snapshot pairs of tiny Navier-Stokes trajectories, with the autoregressive rollout of eval.
set(bns_dir ${CMAKE_CURRENT_BINARY_DIR}/burgers_ns)
file(MAKE_DIRECTORY ${bns_dir})
file(WRITE ${bns_dir}/tiny.yaml
"train_split: train
train_count: 6
valid_split: train
valid_begin: 6
mgno:
  channels: 4
  levels: 3
  layers: 1
  padding_mode: circular
fno:
  modes: 4
  width: 6
  layers: 2
  projection_channels: 8
loss: l2
periodic: true
epochs: 1
batch_size: 4
lr: 1.0e-3
seed: 1
")

# Burgers: 64 points, 8 train + 3 test samples.
physml_cli_test(NAME cli.burgers.data COMMAND ${CMAKE_COMMAND} -E rm -f ${bns_dir}/burgers.h5 ${bns_dir}/burgers.h5.partial
  ABSENT ${bns_dir}/burgers.h5 ${bns_dir}/burgers.h5.partial PROPERTIES LABELS cli FIXTURES_SETUP cli_burgers_clean)
physml_cli_test(NAME cli.burgers.generate COMMAND physml_cli generate burgers -output ${bns_dir}/burgers.h5 -ntrain 8 -ntest 3
  -burgers_resolution 64 -seed 2 -threads 1
  OUTPUT "wrote '.*burgers.h5' \\(content checksum [0-9a-f]+\\)" CREATES ${bns_dir}/burgers.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED cli_burgers_clean FIXTURES_SETUP cli_burgers_data)
foreach(model fno mgno)
  physml_cli_test(NAME cli.burgers.train_${model} COMMAND physml_cli train ${bns_dir}/tiny.yaml -model ${model}
    -data ${bns_dir}/burgers.h5 -output ${bns_dir}/burgers_${model} -threads 1
    OUTPUT "training ${model} .*6 train samples, 2 validation samples, grid 64.*epoch 1 +train loss .* valid L2 "
    CREATES ${bns_dir}/burgers_${model}/best.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED cli_burgers_data FIXTURES_SETUP cli_burgers_${model})
  physml_cli_test(NAME cli.burgers.eval_${model} COMMAND physml_cli eval ${bns_dir}/burgers_${model}/best.h5
    ${bns_dir}/burgers.h5 -split test -periodic -figures ${bns_dir}/burgers_${model}/test -threads 1
    OUTPUT "3 samples at 64.*relative L2 +[0-9.e+-]+ +[0-9.e+-]+ +[0-9.e+-]+.*wrote 6 files"
    CREATES ${bns_dir}/burgers_${model}/test/sample0.png ${bns_dir}/burgers_${model}/test/sample2.vti PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_burgers_data;cli_burgers_${model}")
endforeach()

# The two Burgers runs compared by wall time with a reference line: the table names both runs
# with their best validation L2 and the PNG is written; a missing metric is refused.
physml_cli_test(NAME cli.burgers.curves COMMAND physml_cli curves ${bns_dir}/burgers_fno ${bns_dir}/burgers_mgno
  -labels FNO,MgNO -x seconds -reference published=0.016 -output ${bns_dir}/curves.png
  OUTPUT "valid_l2 over the whole runs" "FNO +[0-9.]+e[-+][0-9]+ +1 +[0-9.]+ +1 " "MgNO +[0-9.]+e[-+][0-9]+ +1 " "wrote .*curves.png"
  CREATES ${bns_dir}/curves.png PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_burgers_fno;cli_burgers_mgno")
physml_cli_test(NAME cli.burgers.curves_bad_metric EXIT 1 COMMAND physml_cli curves ${bns_dir}/burgers_fno -metric valid_rollout
  -output ${bns_dir}/curves_bad.png
  OUTPUT "run 'burgers_fno' has no metric 'valid_rollout' \\(its log has train_loss, valid_h1, valid_l2\\)"
  ABSENT ${bns_dir}/curves_bad.png PROPERTIES LABELS cli FIXTURES_REQUIRED cli_burgers_fno)

# Navier-Stokes: 16^2, 3 snapshots after w(t_0), 8 train + 2 test trajectories.
physml_cli_test(NAME cli.ns_pairs.data COMMAND ${CMAKE_COMMAND} -E rm -f ${bns_dir}/ns.h5 ${bns_dir}/ns.h5.partial
  ABSENT ${bns_dir}/ns.h5 ${bns_dir}/ns.h5.partial PROPERTIES LABELS cli FIXTURES_SETUP cli_ns_clean)
physml_cli_test(NAME cli.ns_pairs.generate COMMAND physml_cli generate navier-stokes -output ${bns_dir}/ns.h5 -ntrain 8
  -ntest 2 -navier_stokes_resolution 16 -navier_stokes_steps 3 -navier_stokes_record_interval 0.2
  -navier_stokes_dt 0.01 -navier_stokes_viscosity 1e-5 -seed 3 -threads 1
  OUTPUT "wrote '.*ns.h5' \\(content checksum [0-9a-f]+\\)" CREATES ${bns_dir}/ns.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED cli_ns_clean FIXTURES_SETUP cli_ns_data)
# 6 trajectories x 3 pairs for training, 2 x 3 for validation.
physml_cli_test(NAME cli.ns_pairs.train COMMAND physml_cli train ${bns_dir}/tiny.yaml -model mgno -snapshot_pairs 3
  -data ${bns_dir}/ns.h5 -output ${bns_dir}/ns_mgno -threads 1
  OUTPUT "training mgno .*18 train samples, 6 validation samples, grid 16x16.*epoch 1 +train loss .* valid L2 "
  CREATES ${bns_dir}/ns_mgno/best.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED cli_ns_data FIXTURES_SETUP cli_ns_model)
physml_cli_test(NAME cli.ns_pairs.rollout COMMAND physml_cli eval ${bns_dir}/ns_mgno/best.h5 ${bns_dir}/ns.h5 -split test
  -rollout 3 -figures ${bns_dir}/ns_mgno/rollout -threads 1
  OUTPUT "2 trajectories at 16x16, rollout of 3 steps.*\n3 +[0-9.e+-]+\n.*rollout L2 +[0-9.e+-]+.*wrote 4 files"
  CREATES ${bns_dir}/ns_mgno/rollout/rollout0_step3.png ${bns_dir}/ns_mgno/rollout/rollout1_step3.vti PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_ns_data;cli_ns_model")
# Asking for more than the data hold: exit code 1, a message, the data and model untouched.
physml_cli_test(NAME cli.ns_pairs.rollout_too_long EXIT 1 COMMAND physml_cli eval ${bns_dir}/ns_mgno/best.h5 ${bns_dir}/ns.h5
  -split test -rollout 4 -threads 1
  OUTPUT "physml eval: error: .*rollout of 4 steps needs trajectory data with at least 4 output channels"
  UNCHANGED ${bns_dir}/ns.h5 ${bns_dir}/ns_mgno/best.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_ns_data;cli_ns_model")
physml_cli_test(NAME cli.ns_pairs.too_many_pairs EXIT 1 COMMAND physml_cli train ${bns_dir}/tiny.yaml -snapshot_pairs 4
  -data ${bns_dir}/ns.h5 -output ${bns_dir}/ns_bad -threads 1
  OUTPUT "physml train: error: .*snapshot_pairs must be in \\[1, 3\\]" UNCHANGED ${bns_dir}/ns.h5
  ABSENT ${bns_dir}/ns_bad/last.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED cli_ns_data)
# Teacher-forced one-step error on the test pairs: 2 trajectories x 3 pairs.
physml_cli_test(NAME cli.ns_pairs.eval_pairs COMMAND physml_cli eval ${bns_dir}/ns_mgno/best.h5 ${bns_dir}/ns.h5 -split test
  -snapshot_pairs 3 -periodic -threads 1
  OUTPUT "6 samples at 16x16.*relative L2 +[0-9.e+-]+"
  PROPERTIES LABELS cli FIXTURES_REQUIRED "cli_ns_data;cli_ns_model")
