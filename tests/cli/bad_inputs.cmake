# The catalogue of bad inputs through the command line (docs/bad-inputs.md): each test runs one
# `physml` command with one thing wrong and checks the exit code, a message that names what was
# wrong and what was expected, and that no existing file changed: every fixture file below (the
# inputs, a finished training run's checkpoints and log) is UNCHANGED in every test, and the
# output the command was asked to write is ABSENT.
#
# The fixtures are made at test time by cli.bad_input.setup (FIXTURES_SETUP bad_inputs): a
# tiny Darcy data set (9x9) with a valid split, a tiny Burgers data set (another PDE and grid),
# a 1-epoch MgNO run on the Darcy data, a 2-frame MPM trajectory, and corrupt or foreign files
# made by bad_input_fixtures.cpp. The whole catalogue runs in well under a minute.
set(bad_dir ${CMAKE_CURRENT_BINARY_DIR}/bad_inputs)
add_executable(physml_bad_input_fixtures ${CMAKE_CURRENT_SOURCE_DIR}/bad_input_fixtures.cpp)
target_link_libraries(physml_bad_input_fixtures PRIVATE PhysML::physml)
target_compile_options(physml_bad_input_fixtures PRIVATE ${PHYSML_WARNINGS})
physml_use_torch_pch(physml_bad_input_fixtures)

set(bad_setup ${CMAKE_CURRENT_BINARY_DIR}/bad_inputs_setup.cmake)
file(WRITE ${bad_setup} [=[
file(REMOVE_RECURSE ${D})
file(MAKE_DIRECTORY ${D})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "setup step failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
run(${EXE} generate darcy -output ${D}/darcy.h5 -ntrain 4 -ntest 2 -nvalid 2 -darcy_resolution 9 -seed 1
    -snapshots ${D}/png -snapshot_count 1 -threads 1)
run(${EXE} generate burgers -output ${D}/burgers.h5 -ntrain 2 -ntest 1 -nvalid 1 -burgers_resolution 64
    -burgers_final_time 0.05 -threads 1)
run(${EXE} train -model mgno -mgno_channels 4 -mgno_levels 2 -mgno_layers 1 -data ${D}/darcy.h5 -output ${D}/run
    -epochs 1 -batch_size 2 -threads 1)
run(${EXE} simulate -output ${D}/traj.h5 -frames 2 -mpm_dim 2 -mpm_cells 16 -threads 1)
set(F ${FIX})
run(${F} nan ${D}/darcy.h5 ${D}/nan.h5 train inputs 2 17)
run(${F} inf ${D}/darcy.h5 ${D}/inf_valid.h5 valid outputs 1 5)
run(${F} retype ${D}/darcy.h5 ${D}/int32.h5 train/inputs int32)
run(${F} narrow ${D}/darcy.h5 ${D}/narrow.h5 train/inputs)
run(${F} attr ${D}/darcy.h5 ${D}/future.h5 format_version 99)
run(${F} attr ${D}/darcy.h5 ${D}/otherformat.h5 format physml.mesh)
run(${F} truncate ${D}/darcy.h5 ${D}/truncated.h5 0.5)
run(${F} truncate ${D}/run/last.h5 ${D}/ckpt_truncated.h5 0.5)
run(${F} random ${D}/random.h5 4096)
file(COPY_FILE ${D}/png/darcy_0.png ${D}/picture.h5)
file(WRITE ${D}/empty.h5 "")
run(${F} system ${D}/system.h5 64 ok)
run(${F} system ${D}/system_nan.h5 8 nan)
run(${F} system ${D}/system_nonsquare.h5 8 nonsquare)
run(${F} system ${D}/system_column.h5 8 column)
run(${F} system ${D}/system_rhs.h5 8 rhs)
file(WRITE ${D}/bad.yaml "model: mgno\nepochs: [1, 2\n  : :\n")
message("bad-input fixtures in ${D}")
]=])
physml_cli_test(NAME cli.bad_input.setup COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:physml_cli>
  -DFIX=$<TARGET_FILE:physml_bad_input_fixtures> -DD=${bad_dir} -P ${bad_setup}
  OUTPUT "bad-input fixtures in " CREATES ${bad_dir}/run/last.h5 ${bad_dir}/system.h5
  PROPERTIES LABELS cli FIXTURES_SETUP bad_inputs TIMEOUT 120)

# Every fixture file: none may change in any test.
set(bad_files)
foreach(f darcy.h5 burgers.h5 run/last.h5 run/best.h5 run/log.csv traj.h5 nan.h5 inf_valid.h5 int32.h5 narrow.h5
    future.h5 otherformat.h5 truncated.h5 ckpt_truncated.h5 random.h5 picture.h5 empty.h5 system.h5 system_nan.h5
    system_nonsquare.h5 system_column.h5 system_rhs.h5 bad.yaml)
  list(APPEND bad_files ${bad_dir}/${f})
endforeach()

# bad_input(NAME EXIT code OUTPUT regex... [ABSENT file...] COMMAND physml-args...)
function(bad_input name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "EXIT" "OUTPUT;NOT_OUTPUT;ABSENT;COMMAND")
  if(NOT DEFINED A_EXIT)
    set(A_EXIT 1)
  endif()
  set(not_output)
  if(A_NOT_OUTPUT)
    set(not_output NOT_OUTPUT ${A_NOT_OUTPUT})
  endif()
  physml_cli_test(NAME cli.bad_input.${name} EXIT ${A_EXIT} OUTPUT ${A_OUTPUT} ${not_output} UNCHANGED ${bad_files}
    ABSENT ${A_ABSENT} ${bad_dir}/out.h5 ${bad_dir}/out.h5.partial ${bad_dir}/out/last.h5 ${bad_dir}/out/best.h5
    COMMAND physml_cli ${A_COMMAND}
    PROPERTIES LABELS cli FIXTURES_REQUIRED bad_inputs TIMEOUT 60)
endfunction()

set(D ${bad_dir})
set(tr train -model mgno -mgno_channels 4 -mgno_levels 2 -mgno_layers 1 -epochs 1 -batch_size 2 -threads 1)
set(darcy -ntrain 2 -ntest 1 -darcy_resolution 9 -threads 1)

# ---- physml train: data sets that are wrong -------------------------------------------------
bad_input(train_nan_data OUTPUT
  "physml train: error: Dataset file '.*nan.h5' has a non-finite value \\(nan\\) in split 'train', inputs of sample 2, flat index 17 \\(channel 0, point 17 of \\[C, spatial...\\] \\[1, 9, 9\\]\\); expected finite data"
  NOT_OUTPUT "loss is nan"
  ABSENT ${D}/out/log.csv COMMAND ${tr} -data ${D}/nan.h5 -output ${D}/out)
bad_input(train_nan_data_over_existing_run OUTPUT "physml train: error: Dataset file '.*nan.h5' has a non-finite value"
  COMMAND ${tr} -data ${D}/nan.h5 -output ${D}/run)
bad_input(train_inf_in_valid_split OUTPUT
  "physml train: error: Dataset file '.*inf_valid.h5' has a non-finite value \\(inf\\) in split 'valid', outputs of sample 1, flat index 5"
  COMMAND ${tr} -data ${D}/inf_valid.h5 -output ${D}/out)
bad_input(train_int32_data OUTPUT "physml train: error: Dataset file '.*int32.h5': split 'train' stores inputs as int32 and outputs as float32, expected float32 as the dtype attribute says"
  COMMAND ${tr} -data ${D}/int32.h5 -output ${D}/out)
bad_input(train_wrong_shape OUTPUT "physml train: error: Dataset file '.*narrow.h5': split 'train' has sample shapes \\[1, 9, 4\\] -> \\[1, 9, 9\\], other splits \\[1, 9, 9\\] -> \\[1, 9, 9\\]; expected the same sample shapes in every split"
  COMMAND ${tr} -data ${D}/narrow.h5 -output ${D}/out)
bad_input(train_newer_format_version OUTPUT "physml train: error: HDF5 file '.*future.h5' has physml.dataset format_version 99; this PhysML reads versions 1 to 1"
  COMMAND ${tr} -data ${D}/future.h5 -output ${D}/out)
bad_input(train_other_format OUTPUT "physml train: error: HDF5 file '.*otherformat.h5' holds format 'physml.mesh', expected 'physml.dataset'"
  COMMAND ${tr} -data ${D}/otherformat.h5 -output ${D}/out)
bad_input(train_truncated_hdf5 OUTPUT "physml train: error: .*truncated.h5.*(truncated|not an HDF5 file)"
  COMMAND ${tr} -data ${D}/truncated.h5 -output ${D}/out)
bad_input(train_random_bytes OUTPUT "physml train: error: .*random.h5.*not an HDF5 file"
  COMMAND ${tr} -data ${D}/random.h5 -output ${D}/out)
bad_input(train_png_renamed_h5 OUTPUT "physml train: error: .*picture.h5.*not an HDF5 file"
  COMMAND ${tr} -data ${D}/picture.h5 -output ${D}/out)
bad_input(train_empty_file OUTPUT "physml train: error: .*empty.h5.*not an HDF5 file"
  COMMAND ${tr} -data ${D}/empty.h5 -output ${D}/out)
bad_input(train_checkpoint_as_data OUTPUT
  "physml train: error: HDF5 file '.*run/last.h5' holds format 'physml.checkpoint', expected 'physml.dataset'"
  COMMAND ${tr} -data ${D}/run/last.h5 -output ${D}/out)
bad_input(train_trajectory_as_data OUTPUT
  "physml train: error: HDF5 file '.*traj.h5' holds format 'physml.trajectory', expected 'physml.dataset'"
  COMMAND ${tr} -data ${D}/traj.h5 -output ${D}/out)
bad_input(train_missing_data OUTPUT "physml train: error: data file '.*no_such.h5' does not exist"
  COMMAND ${tr} -data ${D}/no_such.h5 -output ${D}/out)
bad_input(train_data_is_directory OUTPUT "physml train: error: '.*bad_inputs/png' is not a regular file \\(expected an HDF5 file\\)"
  COMMAND ${tr} -data ${D}/png -output ${D}/out)
bad_input(train_unknown_valid_split OUTPUT "physml train: error: Dataset file '.*darcy.h5' has no split 'check'; its splits are test, train, valid"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -valid_split check)
bad_input(train_snapshot_pairs_on_pairs OUTPUT "physml train: error: GridDataset: snapshot_pairs must be in \\[1, 1\\] \\(.*darcy.h5 has 1 snapshots after the initial state\\), got 2"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -snapshot_pairs 2)
bad_input(train_gns_on_dataset OUTPUT "physml train: error: .*darcy.h5.*holds format 'physml.dataset', expected 'physml.trajectory'"
  COMMAND train -model gns -data ${D}/darcy.h5 -valid_data ${D}/darcy.h5 -output ${D}/out -epochs 1 -threads 1)

# ---- physml train: options that are wrong ---------------------------------------------------
bad_input(train_unknown_model OUTPUT "physml train: error: option -model: unknown value 'resnet'; expected one of: .*mgno"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -model resnet)
bad_input(train_misspelled_option OUTPUT "physml train: error: unknown or unused option.*-epocs"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -epocs 3)
bad_input(train_ill_typed_option OUTPUT "physml train: error: option -epochs: expected an integer, got 'two'"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -epochs two)
bad_input(train_zero_epochs OUTPUT "physml train: error: option -epochs = 0 is out of range: expected 1 or more"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -epochs 0)
bad_input(train_negative_lr OUTPUT "physml train: error: learning rate must be > 0, got -1"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -lr -1)
bad_input(train_zero_batch OUTPUT "physml train: error: option -batch_size = 0 is out of range: expected 1 or more"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -batch_size 0)
bad_input(train_unknown_loss OUTPUT "physml train: error: .*loss.*'l3'.*expected one of"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -loss l3)
bad_input(train_malformed_yaml OUTPUT "physml train: error: Environment: PETSc could not start \\(PetscInitialize error code [0-9]+\\): it could not read the options file '.*bad.yaml' \\(-options_file_yaml\\); expected a readable PETSc options file"
  COMMAND train ${D}/bad.yaml -data ${D}/darcy.h5 -output ${D}/out)
bad_input(train_missing_output OUTPUT "physml train: error: missing required option -output \\(a directory\\)"
  COMMAND ${tr} -data ${D}/darcy.h5)
bad_input(train_output_is_a_file OUTPUT "physml train: error: -output '.*darcy.h5' is a file; expected a directory \\(for last.h5, best.h5, log.csv\\)"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/darcy.h5)
bad_input(train_output_read_only OUTPUT "physml train: error: Trainer: cannot create the output directory '/proc/physml_bad_input': .*; expected a directory that exists or can be created"
  ABSENT /proc/physml_bad_input COMMAND ${tr} -data ${D}/darcy.h5 -output /proc/physml_bad_input)
# Divergence: a learning rate of 1e12 drives the loss to Inf/NaN in the first epoch; the run stops
# with the reason and writes no checkpoint.
bad_input(train_diverges OUTPUT "physml train: error: training diverged: .*(loss is|non-finite|validation).*stopped, the last good checkpoint is kept"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -lr 1e12 -epochs 3)

# ---- physml train -resume: checkpoints that are wrong ---------------------------------------
bad_input(resume_missing OUTPUT "physml train: error: .*no_such_ckpt.h5.*does not exist"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -resume ${D}/no_such_ckpt.h5)
bad_input(resume_from_dataset OUTPUT "physml train: error: .*darcy.h5.*holds format 'physml.dataset', expected 'physml.checkpoint'"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -resume ${D}/darcy.h5)
bad_input(resume_truncated OUTPUT "physml train: error: .*ckpt_truncated.h5.*(truncated|not an HDF5 file)"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -resume ${D}/ckpt_truncated.h5)
bad_input(resume_other_seed OUTPUT "physml train: error: checkpoint .*run/last.h5 was trained with -seed 0, this run has -seed 7; an exact resume needs the same seed"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -resume ${D}/run/last.h5 -epochs 2 -seed 7)
bad_input(resume_other_model OUTPUT "physml train: error: checkpoint .*run/last.h5 has incompatible model option model = 'mgno', the model has 'fno'"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -resume ${D}/run/last.h5 -epochs 2 -model fno)
bad_input(resume_beyond_epochs OUTPUT "physml train: error: checkpoint .*run/last.h5 is at epoch 1 beyond the run's 0 epochs|option -epochs = 0"
  COMMAND ${tr} -data ${D}/darcy.h5 -output ${D}/out -resume ${D}/run/last.h5 -epochs 0)

# ---- physml eval --------------------------------------------------------------------------
bad_input(eval_dataset_as_checkpoint OUTPUT "physml eval: error: load: '.*darcy.h5' is not a PhysML model file \\(Checkpoint\\)"
  COMMAND eval ${D}/darcy.h5 ${D}/darcy.h5)
bad_input(eval_checkpoint_as_dataset OUTPUT "physml eval: error: HDF5 file '.*run/best.h5' holds format 'physml.checkpoint', expected 'physml.dataset'"
  COMMAND eval ${D}/run/best.h5 ${D}/run/best.h5)
bad_input(eval_other_pde_and_grid OUTPUT "physml eval: error: the model '.*run/best.h5' cannot be evaluated on '.*burgers.h5' \\(split 'test', input samples \\[C, spatial...\\] = \\[1, 64\\]\\); expected data of the PDE and grid dimension the model was trained on: MgNO \\(dim 2\\) expects input \\[batch, 1, spatial\\(2\\)\\], got a tensor of shape \\[1, 1, 64\\]"
  COMMAND eval ${D}/run/best.h5 ${D}/burgers.h5)
bad_input(eval_nan_data OUTPUT "physml eval: error: Dataset file '.*nan.h5' has a non-finite value \\(nan\\) in split 'train', inputs of sample 2"
  COMMAND eval ${D}/run/best.h5 ${D}/nan.h5 -split train)
bad_input(eval_truncated_checkpoint OUTPUT "physml eval: error: .*ckpt_truncated.h5.*(truncated|not an HDF5 file)"
  COMMAND eval ${D}/ckpt_truncated.h5 ${D}/darcy.h5)
bad_input(eval_random_checkpoint OUTPUT "physml eval: error: .*random.h5.*not an HDF5 file|physml eval: error: load: '.*random.h5' is not"
  COMMAND eval ${D}/random.h5 ${D}/darcy.h5)
bad_input(eval_unknown_split OUTPUT "physml eval: error: Dataset file '.*darcy.h5' has no split 'tset'; its splits are test, train, valid"
  COMMAND eval ${D}/run/best.h5 ${D}/darcy.h5 -split tset)
bad_input(eval_zero_stride OUTPUT "physml eval: error: option -stride = 0 is out of range: expected 1 or more"
  COMMAND eval ${D}/run/best.h5 ${D}/darcy.h5 -stride 0)
bad_input(eval_count_beyond_split OUTPUT "physml eval: error: GridDataset: samples \\[0, 50\\) are not in split 'test' of .*darcy.h5 \\(2 samples\\)"
  COMMAND eval ${D}/run/best.h5 ${D}/darcy.h5 -count 50)
bad_input(eval_one_argument OUTPUT "physml eval: error: physml eval takes CHECKPOINT and DATASET, got 1 arguments"
  COMMAND eval ${D}/run/best.h5)
bad_input(eval_figures_read_only OUTPUT "physml eval: error: .*/proc/physml_bad_input"
  COMMAND eval ${D}/run/best.h5 ${D}/darcy.h5 -figures /proc/physml_bad_input)

# ---- physml generate ----------------------------------------------------------------------
bad_input(generate_misspelled_option OUTPUT "physml generate: error: unknown option -ntrian \\(misspelled\\? .physml generate PDE -help. lists the options\\)"
  COMMAND generate darcy -output ${D}/out.h5 ${darcy} -ntrian 3)
bad_input(generate_ill_typed_option OUTPUT "physml generate: error: option -ntrain: expected an integer, got 'three'"
  COMMAND generate darcy -output ${D}/out.h5 -ntrain three)
bad_input(generate_negative_split OUTPUT "physml generate: error: -ntrain -2: expected a non-negative split size"
  COMMAND generate darcy -output ${D}/out.h5 -ntrain -2)
bad_input(generate_unknown_dtype OUTPUT "physml generate: error: option -dtype: unknown value 'float16'; expected one of: float32, float64"
  COMMAND generate darcy -output ${D}/out.h5 ${darcy} -dtype float16)
bad_input(generate_dim_out_of_range OUTPUT "physml generate: error: option -poisson_dim = 4 is out of range"
  COMMAND generate poisson -output ${D}/out.h5 -poisson_dim 4)
bad_input(generate_no_such_directory OUTPUT "physml generate: error: output directory '.*bad_inputs/no/dir' does not exist"
  COMMAND generate darcy -output ${D}/no/dir/out.h5 ${darcy})
bad_input(generate_read_only_directory OUTPUT "physml generate: error: .*/proc/physml_bad_input.h5.*"
  ABSENT /proc/physml_bad_input.h5 COMMAND generate darcy -output /proc/physml_bad_input.h5 ${darcy})
bad_input(generate_output_is_directory OUTPUT "physml generate: error: '.*bad_inputs/png' is not a regular file \\(expected an HDF5 file\\)"
  COMMAND generate darcy -output ${D}/png ${darcy})
bad_input(generate_over_other_pde OUTPUT "physml generate: error: Dataset file '.*darcy.h5' already exists with different settings \\(generator: 'darcy' in the file, 'burgers' requested\\); delete it or write to another path"
  COMMAND generate burgers -output ${D}/darcy.h5 -ntrain 4 -ntest 2 -nvalid 2 -burgers_resolution 64)
bad_input(generate_over_checkpoint OUTPUT "physml generate: error: .*run/last.h5.*holds format 'physml.checkpoint', expected 'physml.dataset'"
  COMMAND generate darcy -output ${D}/run/last.h5 ${darcy})
bad_input(generate_over_random_bytes OUTPUT "physml generate: error: .*random.h5.*not an HDF5 file"
  COMMAND generate darcy -output ${D}/random.h5 ${darcy})
# (the partial file keeps the samples that were written, for a rerun with other solver options)
bad_input(generate_not_converged OUTPUT "sample train\\[0\\] not written: Poisson solve did not converge: DIVERGED_ITS after 2 iterations"
  "physml generate: error: 1 sample\\(s\\) failed and were not written \\(first: Poisson solve did not converge: DIVERGED_ITS after 2 iterations \\(residual norm [0-9.e+-]+\\); try other -darcy_ksp_type/-darcy_pc_type or a larger -darcy_ksp_max_it\\)"
  ABSENT ${D}/noconv.h5 COMMAND generate darcy -output ${D}/noconv.h5 -ntrain 1 -ntest 0 -darcy_resolution 17 -darcy_pc_type none -darcy_ksp_max_it 2)

# ---- physml solve -------------------------------------------------------------------------
# Non-convergence is reported with PETSc's reason and exit code 2 (the solve ran, its result is not usable).
bad_input(solve_not_converged EXIT 2 OUTPUT "iterations +3 \\(DIVERGED_ITS\\)"
  COMMAND solve ${D}/system.h5 -ksp_max_it 3 -pc_type none)
bad_input(solve_nan_matrix OUTPUT "physml solve: error: .*system_nan.h5.*(NaN|non-finite|finite)"
  COMMAND solve ${D}/system_nan.h5)
bad_input(solve_non_square OUTPUT "physml solve: error: .*system_nonsquare.h5.*(square|rows 8.*cols 9)"
  COMMAND solve ${D}/system_nonsquare.h5)
bad_input(solve_column_out_of_range OUTPUT "physml solve: error: linear system: '.*system_column.h5': A/col_idx has entries in \\[0, 13\\], expected 0 <= column < 8"
  COMMAND solve ${D}/system_column.h5)
bad_input(solve_rhs_wrong_length OUTPUT "physml solve: error: .*system_rhs.h5.*b.*\\[7\\].*8|physml solve: error: .*system_rhs.h5.*\\[8\\]"
  COMMAND solve ${D}/system_rhs.h5)
bad_input(solve_random_bytes OUTPUT "physml solve: error: .*random.h5"
  COMMAND solve ${D}/random.h5)
bad_input(solve_dataset_as_system OUTPUT "physml solve: error: linear system: '.*darcy.h5' has a 'format' attribute that is not \"physml.linear_system\" \\(it is another kind of PhysML file\\)"
  COMMAND solve ${D}/darcy.h5)
bad_input(solve_unknown_ksp_type OUTPUT "physml solve: error: .*(Unknown|unknown).*nosuchksp"
  COMMAND solve ${D}/system.h5 -ksp_type nosuchksp)

# ---- physml simulate ----------------------------------------------------------------------
bad_input(simulate_negative_frames OUTPUT "physml simulate: error: option -frames = -1 is out of range"
  COMMAND simulate -output ${D}/out.h5 -frames -1)
bad_input(simulate_ill_typed_dt OUTPUT "physml simulate: error: option -mpm_dt.*'abc'"
  COMMAND simulate -output ${D}/out.h5 -frames 2 -mpm_dt abc)
bad_input(simulate_dim_out_of_range OUTPUT "physml simulate: error: option -mpm_dim = 4 is out of range"
  COMMAND simulate -output ${D}/out.h5 -frames 2 -mpm_dim 4)
bad_input(simulate_over_dataset OUTPUT "physml simulate: error: .*darcy.h5.*holds format 'physml.dataset', expected 'physml.trajectory'"
  COMMAND simulate -output ${D}/darcy.h5 -frames 2 -mpm_dim 2 -mpm_cells 16 -threads 1)
bad_input(simulate_negative_velocity_spread OUTPUT "physml simulate: error: -velocity_spread -1: expected a finite value >= 0"
  ABSENT ${D}/out_0.h5 COMMAND simulate -output ${D}/out.h5 -frames 2 -mpm_dim 2 -mpm_cells 16 -trajectories 2 -velocity_spread -1)
bad_input(simulate_zero_trajectories OUTPUT "physml simulate: error: option -trajectories = 0 is out of range"
  COMMAND simulate -output ${D}/out.h5 -frames 2 -mpm_dim 2 -mpm_cells 16 -trajectories 0)
bad_input(simulate_evaluator_without_model OUTPUT
  "physml simulate: error: -evaluator applies to a learned rollout: set -model and -initial too"
  COMMAND simulate -evaluator ${D}/run/last.h5 -output ${D}/out.h5 -frames 2 -mpm_dim 2 -mpm_cells 16 -threads 1)
bad_input(train_particles_pattern_matches_nothing OUTPUT "physml train: error: ParticleTask: training pattern '.*nothing_[*].h5' matches no file"
  COMMAND train -model gns -data "${D}/nothing_*.h5" -output ${D}/out -threads 1)
bad_input(train_evaluator_on_a_dataset OUTPUT "physml train: error: .*darcy.h5.*physml.dataset.*physml.trajectory"
  COMMAND train -model giorom_evaluator -data ${D}/darcy.h5 -output ${D}/out -threads 1)
bad_input(simulate_read_only_directory OUTPUT "physml simulate: error: .*/proc/physml_bad_input.h5"
  ABSENT /proc/physml_bad_input.h5 COMMAND simulate -output /proc/physml_bad_input.h5 -frames 2 -mpm_dim 2 -mpm_cells 16)

# ---- physml info --------------------------------------------------------------------------
bad_input(info_truncated OUTPUT "physml info: error: .*truncated.h5.*(truncated|not an HDF5 file)"
  COMMAND info ${D}/truncated.h5)
bad_input(info_missing OUTPUT "physml info: error: .*no_such.h5.*does not exist"
  COMMAND info ${D}/no_such.h5)
