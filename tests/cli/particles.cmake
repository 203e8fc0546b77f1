# `physml train -model gns|giorom` on trajectories of `physml simulate` (2-D, 25 particles, 20
# frames): exit code, output, files; a resumed run; bad input.
set(par_dir ${CMAKE_CURRENT_BINARY_DIR}/particles_data)
file(MAKE_DIRECTORY ${par_dir})
set(par_scene -frames 20 -threads 1 -mpm_dim 2 -mpm_cells 16 -body0_lower 0.3,0.4 -body0_upper 0.6,0.7 -store kinematics
  -progress 0)
physml_cli_test(NAME cli.particles.clean COMMAND ${CMAKE_COMMAND} -E rm -rf ${par_dir}/a.h5 ${par_dir}/b.h5 ${par_dir}/gns
  ${par_dir}/giorom ${par_dir}/e_0.h5 ${par_dir}/e_1.h5 ${par_dir}/e_2.h5 ${par_dir}/ens ${par_dir}/ev ${par_dir}/mpi ${par_dir}/mpi_fail ${par_dir}/example ABSENT ${par_dir}/a.h5 PROPERTIES LABELS cli FIXTURES_SETUP par_clean)
physml_cli_test(NAME cli.particles.simulate_a COMMAND physml_cli simulate -output ${par_dir}/a.h5 ${par_scene}
  -body0_velocity 1,0.5 -body0_angular_velocity 2
  OUTPUT "wrote '.*a.h5' \\(21 frames of 25 particles" CREATES ${par_dir}/a.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED par_clean FIXTURES_SETUP par_a)
physml_cli_test(NAME cli.particles.simulate_b COMMAND physml_cli simulate -output ${par_dir}/b.h5 ${par_scene}
  -body0_velocity -1,0.5 -body0_angular_velocity -2
  OUTPUT "wrote '.*b.h5' \\(21 frames of 25 particles" CREATES ${par_dir}/b.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED par_clean FIXTURES_SETUP par_b)
physml_cli_test(NAME cli.particles.train_gns COMMAND physml_cli train -model gns -data ${par_dir}/a.h5 -valid_data ${par_dir}/b.h5
  -output ${par_dir}/gns -epochs 2 -gns_latent 16 -gns_steps 2 -gns_radius 0.1 -gns_noise 1e-4 -threads 1
  OUTPUT "training gns \\(7362 parameters\\) on 1 trajectories \\(2-D\\), validating on 1"
         "epoch 2  train loss [0-9.e+-]+  one-step MSE [0-9.e+-]+  rollout MSE [0-9.e+-]+"
  CREATES ${par_dir}/gns/best.h5 ${par_dir}/gns/last.h5 ${par_dir}/gns/log.csv ${par_dir}/gns/loss.png
  PROPERTIES LABELS cli FIXTURES_REQUIRED "par_a;par_b" FIXTURES_SETUP par_gns)
physml_cli_test(NAME cli.particles.resume_gns COMMAND physml_cli train -model gns -data ${par_dir}/a.h5 -valid_data ${par_dir}/b.h5
  -output ${par_dir}/gns -epochs 3 -gns_latent 16 -gns_steps 2 -gns_radius 0.1 -gns_noise 1e-4 -threads 1
  -resume ${par_dir}/gns/last.h5
  OUTPUT "resumed from .*last.h5 at epoch 2" "epoch 3  train loss"
  PROPERTIES LABELS cli FIXTURES_REQUIRED par_gns)
physml_cli_test(NAME cli.particles.train_giorom COMMAND physml_cli train -model giorom -data ${par_dir}/a.h5,${par_dir}/b.h5
  -output ${par_dir}/giorom -epochs 1 -giorom_latent 16 -giorom_mp_steps 1 -giorom_radius 0.1 -giorom_latent_grid 8
  -giorom_gno_radius 0.15 -giorom_gno_width 8 -giorom_fno_modes 3 -giorom_fno_width 8 -giorom_fno_layers 1 -giorom_noise 0
  -sample_fraction 0.5 -position_weight 10 -threads 1
  OUTPUT "training giorom \\([0-9]+ parameters\\) on 2 trajectories \\(2-D\\), validating on 0" "epoch 1  train loss"
  CREATES ${par_dir}/giorom/last.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED "par_a;par_b")
physml_cli_test(NAME cli.particles.missing_trajectory EXIT 1 COMMAND physml_cli train -model gns -data ${par_dir}/none.h5
  -output ${par_dir}/x -threads 1
  OUTPUT "physml train: error: ParticleTask: trajectory file '.*none.h5' does not exist" ABSENT ${par_dir}/x/last.h5
  PROPERTIES LABELS cli)
physml_cli_test(NAME cli.particles.wrong_dimension EXIT 1 COMMAND physml_cli train -model gns -data ${par_dir}/a.h5
  -output ${par_dir}/x -gns_dim 3 -threads 1
  OUTPUT "physml train: error: ParticleTask: the gns model is 3-D, the trajectories are 2-D" ABSENT ${par_dir}/x/last.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED par_a)

# Rollouts of the trained GNS through physml simulate -model: files, the score against the
# ground truth, a rerun that does nothing, interrupt + resume equal to an uninterrupted run.
physml_cli_test(NAME cli.particles.rollout COMMAND physml_cli simulate -model ${par_dir}/gns/best.h5 -initial ${par_dir}/b.h5
  -output ${par_dir}/pred.h5 -frames 20 -vtk ${par_dir}/pred_vtk -vtk_every 10 -png ${par_dir}/pred_png -png_every 20 -progress 0
  OUTPUT "wrote '.*pred.h5' \\(21 frames of 25 particles by gns"
         "rollout position MSE against '.*b.h5' over 15 predicted frames: mean [0-9.e+-]+, last [0-9.e+-]+"
  CREATES ${par_dir}/pred.h5 ${par_dir}/pred_vtk/mpm.pvd ${par_dir}/pred_vtk/mpm_00020.vtp ${par_dir}/pred_png/mpm_00020.png
  PROPERTIES LABELS cli FIXTURES_REQUIRED par_gns FIXTURES_SETUP par_rollout)
physml_cli_test(NAME cli.particles.rollout_rerun_is_noop COMMAND physml_cli simulate -model ${par_dir}/gns/best.h5
  -initial ${par_dir}/b.h5 -output ${par_dir}/pred.h5 -frames 20 -progress 0
  OUTPUT "pred.h5' is already complete \\(21 frames of 25 particles\\); nothing to do" UNCHANGED ${par_dir}/pred.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED par_rollout)
physml_cli_test(NAME cli.particles.rollout_not_a_model EXIT 1 COMMAND physml_cli simulate -model ${par_dir}/a.h5
  -initial ${par_dir}/b.h5 -output ${par_dir}/x.h5 -frames 20
  OUTPUT "physml simulate: error: load: '.*a.h5' is not a PhysML model file \\(Checkpoint\\)" ABSENT ${par_dir}/x.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED "par_a;par_b")
physml_cli_test(NAME cli.particles.rollout_needs_initial EXIT 1 COMMAND physml_cli simulate -model ${par_dir}/gns/best.h5
  -output ${par_dir}/x.h5 -frames 20
  OUTPUT "physml simulate: error: -model needs -initial FILE.h5" ABSENT ${par_dir}/x.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED par_gns)
set(par_resume ${CMAKE_CURRENT_BINARY_DIR}/particles_resume.cmake)
file(WRITE ${par_resume} [=[
file(REMOVE ${DIR}/r.h5 ${DIR}/r.h5.partial ${DIR}/ref.h5 ${DIR}/ref.h5.partial)
set(args -model ${DIR}/gns/best.h5 -initial ${DIR}/b.h5 -frames 16 -dtype float64 -progress 0 -threads 1)
execute_process(COMMAND ${EXE} simulate -output ${DIR}/r.h5 ${args} -test_interrupt_after 9
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 130 OR EXISTS ${DIR}/r.h5 OR NOT EXISTS ${DIR}/r.h5.partial)
  message(FATAL_ERROR "interrupted rollout: exit ${rc} (expected 130)\n${out}${err}")
endif()
execute_process(COMMAND ${EXE} simulate -output ${DIR}/r.h5 ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT "${out}${err}" MATCHES "resuming '.*r.h5' after frame 8 of 16")
  message(FATAL_ERROR "resumed rollout: exit ${rc}\n${out}${err}")
endif()
execute_process(COMMAND ${EXE} simulate -output ${DIR}/ref.h5 ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
execute_process(COMMAND ${CHECK} ${DIR}/r.h5 ${DIR}/ref.h5 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "resumed rollout differs:\n${out}${err}")
endif()
message("resumed rollout identical: ${out}")
]=])
physml_cli_test(NAME cli.particles.rollout_resume_bit_for_bit COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:physml_cli>
  -DCHECK=$<TARGET_FILE:physml_trajectory_compare> -DDIR=${par_dir} -P ${par_resume}
  OUTPUT "resumed rollout identical: ok" PROPERTIES LABELS cli FIXTURES_REQUIRED par_gns)

# An ensemble for GNS/GIOROM data (physml simulate -trajectories): one file per member with its
# own random initial motion, a rerun that does nothing, training on a wildcard pattern, the same
# files from two MPI ranks.
set(par_ensemble -trajectories 3 -velocity_spread 0.5 -angular_velocity_spread 1 -ensemble_seed 2 ${par_scene})
physml_cli_test(NAME cli.particles.ensemble COMMAND physml_cli simulate -output ${par_dir}/e.h5 ${par_ensemble}
  OUTPUT "wrote '.*e_0.h5' \\(21 frames of 25 particles" "wrote '.*e_2.h5' \\(21 frames of 25 particles"
         "3 of 3 trajectories simulated in this run, 0 already complete: '.*e_0.h5' [.][.][.] '.*e_2.h5'"
  CREATES ${par_dir}/e_0.h5 ${par_dir}/e_1.h5 ${par_dir}/e_2.h5 ABSENT ${par_dir}/e.h5 ${par_dir}/e_3.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED par_clean FIXTURES_SETUP par_ensemble)
physml_cli_test(NAME cli.particles.ensemble_rerun_is_noop COMMAND physml_cli simulate -output ${par_dir}/e.h5 ${par_ensemble}
  OUTPUT "0 of 3 trajectories simulated in this run, 3 already complete" UNCHANGED ${par_dir}/e_1.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED par_ensemble)
physml_cli_test(NAME cli.particles.ensemble_other_seed_refused EXIT 1 COMMAND physml_cli simulate -output ${par_dir}/e.h5
  ${par_ensemble} -ensemble_seed 3
  OUTPUT "physml simulate: error: trajectory 0 of 3 \\('.*e_0.h5'\\): " UNCHANGED ${par_dir}/e_0.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED par_ensemble)
physml_cli_test(NAME cli.particles.train_on_pattern COMMAND physml_cli train -model gns -data "${par_dir}/e_*.h5"
  -valid_data ${par_dir}/b.h5 -output ${par_dir}/ens -epochs 1 -gns_latent 8 -gns_steps 1 -gns_radius 0.1 -threads 1
  OUTPUT "training gns \\([0-9]+ parameters\\) on 3 trajectories \\(2-D\\), validating on 1" "epoch 1  train loss"
  CREATES ${par_dir}/ens/last.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED "par_ensemble;par_b")
physml_cli_test(NAME cli.particles.pattern_matches_nothing EXIT 1 COMMAND physml_cli train -model gns
  -data "${par_dir}/nothing_*.h5" -output ${par_dir}/x -threads 1
  OUTPUT "physml train: error: ParticleTask: training pattern '.*nothing_[*].h5' matches no file" ABSENT ${par_dir}/x/last.h5
  PROPERTIES LABELS cli)
set(par_ens_mpi ${CMAKE_CURRENT_BINARY_DIR}/particles_ensemble_mpi.cmake)
file(WRITE ${par_ens_mpi} [=[
file(REMOVE_RECURSE ${DIR}/mpi)
file(MAKE_DIRECTORY ${DIR}/mpi)
execute_process(COMMAND ${MPIEXEC} --allow-run-as-root --oversubscribe -n 2 ${EXE} simulate -output ${DIR}/mpi/e.h5 ${ARGS}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT "${out}${err}" MATCHES "3 of 3 trajectories simulated in this run")
  message(FATAL_ERROR "mpirun -n 2 physml simulate -trajectories 3: exit ${rc}
${out}${err}")
endif()
foreach(k 0 1 2)
  execute_process(COMMAND ${CHECK} ${DIR}/mpi/e_${k}.h5 ${DIR}/e_${k}.h5 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "member ${k} differs between 2 ranks and 1 rank:\n${out}${err}")
  endif()
endforeach()
# A member that fails on rank 1 only (its file exists with other settings): every rank ends,
# the command fails naming it, the other members are written, the refused file is untouched.
file(REMOVE_RECURSE ${DIR}/mpi_fail)
file(MAKE_DIRECTORY ${DIR}/mpi_fail)
file(COPY_FILE ${DIR}/e_0.h5 ${DIR}/mpi_fail/e_1.h5)
file(SHA256 ${DIR}/mpi_fail/e_1.h5 before)
execute_process(COMMAND ${MPIEXEC} --allow-run-as-root --oversubscribe -n 2 ${EXE} simulate -output ${DIR}/mpi_fail/e.h5 ${ARGS}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
file(SHA256 ${DIR}/mpi_fail/e_1.h5 after)
if(rc EQUAL 0 OR NOT "${out}${err}" MATCHES "error: trajectory 1 of 3 \\('[^']*e_1.h5'\\): Trajectory file" OR
   NOT EXISTS ${DIR}/mpi_fail/e_2.h5 OR NOT before STREQUAL after)
  message(FATAL_ERROR "a member failing on rank 1: exit ${rc}\n${out}${err}")
endif()
message("same members on 2 ranks and 1 rank: ok; a failure on rank 1 reported: ok")
]=])
find_program(PHYSML_MPIEXEC NAMES mpirun mpiexec)
if(PHYSML_MPIEXEC)
  physml_cli_test(NAME cli.particles.ensemble_mpi_same_as_serial COMMAND ${CMAKE_COMMAND} -DMPIEXEC=${PHYSML_MPIEXEC}
    -DEXE=$<TARGET_FILE:physml_cli> -DCHECK=$<TARGET_FILE:physml_trajectory_compare> -DDIR=${par_dir}
    "-DARGS=${par_ensemble}" -P ${par_ens_mpi}
    OUTPUT "same members on 2 ranks and 1 rank: ok; a failure on rank 1 reported: ok" PROPERTIES LABELS "cli;mpi" FIXTURES_REQUIRED par_ensemble)
endif()

# GIOROM's point evaluator on the full-resolution frames of the ensemble.
physml_cli_test(NAME cli.particles.train_evaluator COMMAND physml_cli train -model giorom_evaluator -data "${par_dir}/e_*.h5"
  -valid_data ${par_dir}/b.h5 -output ${par_dir}/ev -epochs 2 -evaluator_sparse 8 -evaluator_queries 10
  -giorom_evaluator_grid 4 -giorom_evaluator_width 8 -threads 1
  OUTPUT "training giorom_evaluator \\([0-9]+ parameters\\) on 3 trajectories \\(2-D, 60 frames\\), validating on 1"
         "epoch 2  train loss [0-9.e+-]+  position MSE [0-9.e+-]+  relative error [0-9.e+-]+"
  CREATES ${par_dir}/ev/best.h5 ${par_dir}/ev/last.h5 ${par_dir}/ev/log.csv
  PROPERTIES LABELS cli FIXTURES_REQUIRED "par_ensemble;par_b" FIXTURES_SETUP par_ev)
physml_cli_test(NAME cli.particles.evaluator_too_many_sparse_points EXIT 1 COMMAND physml_cli train -model giorom_evaluator
  -data "${par_dir}/e_*.h5" -output ${par_dir}/x -evaluator_sparse 26 -threads 1
  OUTPUT "physml train: error: EvaluatorTask: -evaluator_sparse 26 exceeds the 25 particles of '.*e_0.h5'"
  ABSENT ${par_dir}/x/last.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED par_ensemble)

# GIOROM's reduced-order rollout: the GNS on 8 sparse particles, the evaluator for all 25.
physml_cli_test(NAME cli.particles.rollout_with_evaluator COMMAND physml_cli simulate -model ${par_dir}/gns/best.h5
  -evaluator ${par_dir}/ev/best.h5 -evaluator_sparse 8 -initial ${par_dir}/b.h5 -output ${par_dir}/ev/pred.h5 -frames 20
  -progress 0
  OUTPUT "wrote '.*pred.h5' \\(21 frames of 25 particles by gns on 8 sparse particles [+] giorom_evaluator"
         "rollout position MSE against '.*b.h5' over 15 predicted frames: mean [0-9.e+-]+, last [0-9.e+-]+"
  CREATES ${par_dir}/ev/pred.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED "par_gns;par_ev")
physml_cli_test(NAME cli.particles.rollout_evaluator_not_an_evaluator EXIT 1 COMMAND physml_cli simulate
  -model ${par_dir}/gns/best.h5 -evaluator ${par_dir}/gns/best.h5 -initial ${par_dir}/b.h5 -output ${par_dir}/x.h5 -frames 20
  OUTPUT "physml simulate: error: -evaluator '.*best.h5' holds a model of type 'gns'; expected giorom_evaluator"
  ABSENT ${par_dir}/x.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED par_gns)

# examples/particles/run.sh end to end at a tiny size: data, three trainings, two rollouts, the table.
physml_cli_test(NAME cli.particles.example_smoke COMMAND ${CMAKE_COMMAND} -E env PHYSML=$<TARGET_FILE:physml_cli>
  OUT=${par_dir}/example TRAJ=3 FRAMES=12 EPOCHS=1 GNS_LATENT=16 GNS_STEPS=1
  ${PROJECT_SOURCE_DIR}/examples/particles/run.sh
  OUTPUT "3 of 3 trajectories simulated in this run"
         "[|] GNS, full graph \\(550 particles\\) [|] [0-9.e+-]+, [0-9.e+-]+ [|] [0-9.]+ [|]"
         "[|] GIOROM, 137 sparse particles [+] evaluator [|] [0-9.e+-]+, [0-9.e+-]+ [|] [0-9.]+ [|]"
  CREATES ${par_dir}/example/table.md ${par_dir}/example/rollout_giorom.h5 ${par_dir}/example/rollout_giorom_png/mpm_00000.png
  PROPERTIES LABELS cli FIXTURES_REQUIRED par_clean)
physml_cli_test(NAME cli.particles.evaluator_needs_a_model EXIT 1 COMMAND physml_cli simulate -evaluator ${par_dir}/ev/best.h5
  -output ${par_dir}/x.h5 ${par_scene}
  OUTPUT "physml simulate: error: -evaluator applies to a learned rollout: set -model and -initial too" ABSENT ${par_dir}/x.h5
  PROPERTIES LABELS cli)
physml_cli_test(NAME cli.particles.train_and_valid_overlap EXIT 1 COMMAND physml_cli train -model gns -data "${par_dir}/e_*.h5"
  -valid_data ${par_dir}/e_2.h5 -output ${par_dir}/x -threads 1
  OUTPUT "physml train: error: ParticleTask: '.*e_2.h5' is listed twice \\(training and validation files\\)"
  ABSENT ${par_dir}/x/last.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED par_ensemble)
