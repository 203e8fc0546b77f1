# `physml simulate`: a short run of the default scene (exit code, output, files), -help,
# bad input, and interrupt + resume equal to an uninterrupted run.
set(sim_dir ${CMAKE_CURRENT_BINARY_DIR}/simulate_data)
file(MAKE_DIRECTORY ${sim_dir})
physml_cli_test(NAME cli.simulate.clean COMMAND ${CMAKE_COMMAND} -E rm -rf ${sim_dir}/cube.h5 ${sim_dir}/cube.h5.partial
  ${sim_dir}/vtk ${sim_dir}/png ABSENT ${sim_dir}/cube.h5 PROPERTIES LABELS cli FIXTURES_SETUP sim_clean)
physml_cli_test(NAME cli.simulate.cube COMMAND physml_cli simulate -output ${sim_dir}/cube.h5 -frames 20 -threads 1
  -vtk ${sim_dir}/vtk -vtk_every 10 -png ${sim_dir}/png -png_every 20
  OUTPUT "simulating 21 of 21 frames of 1000 particles \\(3-D, 1 material\\(s\\)\\)"
         "wrote '.*cube.h5' \\(21 frames of 1000 particles, [0-9.e+]+ particle-substeps/s\\)"
  CREATES ${sim_dir}/cube.h5 ${sim_dir}/vtk/mpm.pvd ${sim_dir}/vtk/mpm_00000.vtp ${sim_dir}/vtk/mpm_00020.vtp
          ${sim_dir}/png/mpm_00000.png ${sim_dir}/png/mpm_00020.png
  ABSENT ${sim_dir}/cube.h5.partial ${sim_dir}/vtk/mpm_00005.vtp
  PROPERTIES LABELS cli FIXTURES_REQUIRED sim_clean FIXTURES_SETUP sim_cube)
physml_cli_test(NAME cli.simulate.rerun_is_noop COMMAND physml_cli simulate -output ${sim_dir}/cube.h5 -frames 20 -threads 1
  OUTPUT "cube.h5' is already complete \\(21 frames of 1000 particles\\); nothing to do" UNCHANGED ${sim_dir}/cube.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED sim_cube)
physml_cli_test(NAME cli.simulate.other_settings_refused EXIT 1 COMMAND physml_cli simulate -output ${sim_dir}/cube.h5
  -frames 20 -mpm_dt 1e-4 -threads 1
  OUTPUT "physml simulate: error: Trajectory file '.*cube.h5' already exists with different settings \\(parameters: "
  UNCHANGED ${sim_dir}/cube.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED sim_cube)
physml_cli_test(NAME cli.simulate.help COMMAND physml_cli simulate -help -output ${sim_dir}/help.h5
  OUTPUT "-mpm_cells <now 20 : formerly 20>: grid cells per axis" "-body0_material <now jelly : formerly jelly>: material \\(jelly\\|plasticine\\|sand\\|water\\)"
         "-frames <now 1000 : formerly 1000>: frames after the initial state"
  ABSENT ${sim_dir}/help.h5 ${sim_dir}/help.h5.partial PROPERTIES LABELS cli)
physml_cli_test(NAME cli.simulate.unknown_material EXIT 1 COMMAND physml_cli simulate -output ${sim_dir}/x.h5
  -body0_material honey
  OUTPUT "physml simulate: error: option -body0_material: unknown value 'honey'; expected one of: jelly, plasticine, sand, water"
  ABSENT ${sim_dir}/x.h5 ${sim_dir}/x.h5.partial PROPERTIES LABELS cli)
physml_cli_test(NAME cli.simulate.body_outside_domain EXIT 1 COMMAND physml_cli simulate -output ${sim_dir}/x.h5
  -body0_lower 2,2,2 -body0_upper 3,3,3
  OUTPUT "physml simulate: error: body 0 \\(-body0_\\*\\): .*outside the domain"
  ABSENT ${sim_dir}/x.h5 ${sim_dir}/x.h5.partial PROPERTIES LABELS cli)
physml_cli_test(NAME cli.simulate.missing_output EXIT 1 COMMAND physml_cli simulate -frames 2
  OUTPUT "physml simulate: error: no output file: set -output FILE.h5" PROPERTIES LABELS cli)

# Bodies from a closed surface (OBJ, volume-sampled) and a torus. The octahedron |x - c|_1 <=
# 0.25 holds the lattice points (k + 1/2) 0.05 whose offsets (j + 1/2) 0.05 from c have
# j_1 + j_2 + j_3 <= 3 (20 triples of j >= 0) times 8 signs: 160 particles, none on the surface.
file(WRITE ${sim_dir}/octa.obj "v 1 0 0\nv -1 0 0\nv 0 1 0\nv 0 -1 0\nv 0 0 1\nv 0 0 -1\n"
  "f 1 3 5\nf 3 2 5\nf 2 4 5\nf 4 1 5\nf 3 1 6\nf 2 3 6\nf 4 2 6\nf 1 4 6\n")
file(WRITE ${sim_dir}/octa_open.obj "v 1 0 0\nv -1 0 0\nv 0 1 0\nv 0 -1 0\nv 0 0 1\nv 0 0 -1\n"
  "f 1 3 5\nf 3 2 5\nf 2 4 5\nf 4 1 5\nf 3 1 6\nf 2 3 6\nf 4 2 6\n")
physml_cli_test(NAME cli.simulate.mesh_body COMMAND physml_cli simulate -output ${sim_dir}/octa.h5 -frames 2 -threads 1
  -body0_shape mesh -body0_mesh ${sim_dir}/octa.obj -body0_mesh_scale 0.25 -body0_mesh_offset 0.5,0.5,0.5
  OUTPUT "simulating 3 of 3 frames of 160 particles \\(3-D, 1 material\\(s\\)\\)" "wrote '.*octa.h5' \\(3 frames of 160 particles"
  CREATES ${sim_dir}/octa.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED sim_clean)
physml_cli_test(NAME cli.simulate.mesh_not_closed EXIT 1 COMMAND physml_cli simulate -output ${sim_dir}/open.h5 -frames 2
  -body0_shape mesh -body0_mesh ${sim_dir}/octa_open.obj -body0_mesh_scale 0.25 -body0_mesh_offset 0.5,0.5,0.5
  OUTPUT "physml simulate: error: body 0 \\(-body0_\\*\\): surface mesh '.*octa_open.obj': the surface is not closed: the edge between vertices [0-9]+ and [0-9]+ \\(at \\(0.000000, -1.000000, 0.000000\\) and \\(1.000000, 0.000000, 0.000000\\)\\) belongs to triangle [0-9]+ only"
  ABSENT ${sim_dir}/open.h5 ${sim_dir}/open.h5.partial PROPERTIES LABELS cli)
physml_cli_test(NAME cli.simulate.torus_body COMMAND physml_cli simulate -output ${sim_dir}/torus.h5 -frames 2 -threads 1
  -mpm_cells 40 -body0_shape torus -body0_radius 0.25 -body0_minor_radius 0.08
  OUTPUT "simulating 3 of 3 frames of [0-9]+ particles \\(3-D, 1 material\\(s\\)\\)"
  CREATES ${sim_dir}/torus.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED sim_clean)

# Interrupt (the real SIGINT, raised after 4 frames) exits 130 with only the partial file; the
# same command completes it, and every stored byte equals an uninterrupted run's.
set(sim_resume ${CMAKE_CURRENT_BINARY_DIR}/simulate_resume.cmake)
file(WRITE ${sim_resume} [=[
file(REMOVE ${DIR}/r.h5 ${DIR}/r.h5.partial ${DIR}/ref.h5 ${DIR}/ref.h5.partial)
set(args -frames 8 -mpm_dim 2 -mpm_cells 16 -body0_velocity 1,-1 -dtype float64 -threads 1)
execute_process(COMMAND ${EXE} simulate -output ${DIR}/r.h5 ${args} -test_interrupt_after 4
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 130 OR EXISTS ${DIR}/r.h5 OR NOT EXISTS ${DIR}/r.h5.partial)
  message(FATAL_ERROR "interrupted run: exit ${rc} (expected 130)\n${out}${err}")
endif()
if(NOT "${out}${err}" MATCHES "interrupted by signal 2 after frame 3; '.*r.h5.partial' holds 4 of 9 frames")
  message(FATAL_ERROR "no interrupt report:\n${err}")
endif()
execute_process(COMMAND ${EXE} simulate -output ${DIR}/r.h5 ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT "${out}${err}" MATCHES "resuming '.*r.h5' after frame 3 of 8")
  message(FATAL_ERROR "resumed run: exit ${rc}\n${out}${err}")
endif()
execute_process(COMMAND ${EXE} simulate -output ${DIR}/ref.h5 ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
execute_process(COMMAND ${CHECK} ${DIR}/r.h5 ${DIR}/ref.h5 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "resumed trajectory differs:\n${out}${err}")
endif()
message("resumed trajectory identical: ${out}")
]=])
add_executable(physml_trajectory_compare ${CMAKE_CURRENT_SOURCE_DIR}/trajectory_compare.cpp)
target_link_libraries(physml_trajectory_compare PRIVATE PhysML::physml)
target_compile_options(physml_trajectory_compare PRIVATE ${PHYSML_WARNINGS})
physml_use_torch_pch(physml_trajectory_compare)
physml_cli_test(NAME cli.simulate.resume_bit_for_bit COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:physml_cli>
  -DCHECK=$<TARGET_FILE:physml_trajectory_compare> -DDIR=${sim_dir} -P ${sim_resume}
  OUTPUT "resumed trajectory identical: ok" PROPERTIES LABELS cli)

# NCLaw through physml train: a 2-D jelly block thrown onto the floor (12 frames), 2 epochs of
# teacher-forced segments; checkpoints, log and the rollout metric. A Dataset file is refused.
physml_cli_test(NAME cli.simulate.nclaw_data COMMAND physml_cli simulate -output ${sim_dir}/jelly2d.h5 -frames 12
  -mpm_dim 2 -mpm_cells 16 -mpm_dt 1e-3 -mpm_substeps 2 -body0_lower 0.3,0.2 -body0_upper 0.55,0.4
  -body0_particles_per_cell_axis 2 -body0_velocity 0.5,-4 -body0_angular_velocity 0 -threads 1
  OUTPUT "wrote '.*jelly2d.h5' \\(13 frames of 56 particles" CREATES ${sim_dir}/jelly2d.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED sim_clean FIXTURES_SETUP sim_nclaw_data)
physml_cli_test(NAME cli.train.nclaw COMMAND physml_cli train -model nclaw_elastic -data ${sim_dir}/jelly2d.h5
  -output ${sim_dir}/nclaw_run -epochs 2 -segment_min 3 -segment_max 6 -threads 1
  OUTPUT "training nclaw_elastic \\(5504 parameters\\) through the differentiable MPM on .*jelly2d.h5: 56 particles, 13 frames, float64 weights"
         "epoch 2  train loss [0-9.e+-]+  rollout MSE [0-9.e+-]+"
  CREATES ${sim_dir}/nclaw_run/last.h5 ${sim_dir}/nclaw_run/best.h5 ${sim_dir}/nclaw_run/log.csv
  PROPERTIES LABELS cli FIXTURES_REQUIRED sim_nclaw_data FIXTURES_SETUP sim_nclaw_law)
# The same training with binomial checkpointing (2 stored states per segment); a negative count is refused.
physml_cli_test(NAME cli.train.nclaw_checkpoints COMMAND physml_cli train -model nclaw_elastic -data ${sim_dir}/jelly2d.h5
  -output ${sim_dir}/nclaw_run_ck -epochs 2 -segment_min 3 -segment_max 6 -threads 1 -checkpoints 2
  OUTPUT "training nclaw_elastic \\(5504 parameters\\) through the differentiable MPM on .*jelly2d.h5: 56 particles, 13 frames, float64 weights"
         "epoch 2  train loss [0-9.e+-]+  rollout MSE [0-9.e+-]+"
  CREATES ${sim_dir}/nclaw_run_ck/last.h5 ${sim_dir}/nclaw_run_ck/best.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED sim_nclaw_data)
physml_cli_test(NAME cli.train.nclaw_bad_checkpoints COMMAND physml_cli train -model nclaw_elastic -data ${sim_dir}/jelly2d.h5
  -output ${sim_dir}/nclaw_run_ckbad -epochs 2 -checkpoints -1
  EXIT 1 OUTPUT "physml train: error: .*-checkpoints.*-1"
  ABSENT ${sim_dir}/nclaw_run_ckbad/last.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED sim_nclaw_data)
# The same training in float32 (NCLaw's precision), and its law simulated (in float64).
physml_cli_test(NAME cli.train.nclaw_float32 COMMAND physml_cli train -model nclaw_elastic -data ${sim_dir}/jelly2d.h5
  -output ${sim_dir}/nclaw_run32 -epochs 2 -segment_min 3 -segment_max 6 -threads 1 -dtype float32
  OUTPUT "training nclaw_elastic \\(5504 parameters\\) through the differentiable MPM on .*jelly2d.h5: 56 particles, 13 frames, float32 weights"
         "epoch 2  train loss [0-9.e+-]+  rollout MSE [0-9.e+-]+"
  CREATES ${sim_dir}/nclaw_run32/last.h5 ${sim_dir}/nclaw_run32/best.h5 ${sim_dir}/nclaw_run32/log.csv
  PROPERTIES LABELS cli FIXTURES_REQUIRED sim_nclaw_data FIXTURES_SETUP sim_nclaw_law32)
physml_cli_test(NAME cli.simulate.trained_law_float32 COMMAND physml_cli simulate -output ${sim_dir}/jelly2d_learned32.h5
  -frames 12 -mpm_dim 2 -mpm_cells 16 -mpm_dt 1e-3 -mpm_substeps 2 -body0_lower 0.3,0.2 -body0_upper 0.55,0.4
  -body0_particles_per_cell_axis 2 -body0_velocity 0.5,-4 -body0_angular_velocity 0 -threads 1
  -law ${sim_dir}/nclaw_run32/best.h5 -reference ${sim_dir}/jelly2d.h5
  OUTPUT "law: nclaw_elastic from '.*nclaw_run32/best.h5' for every body" "wrote '.*jelly2d_learned32.h5' \\(13 frames of 56 particles"
         "rollout MSE against '.*jelly2d.h5': [0-9.e+-]+ \\(mean position MSE over frames 5..10, every 5: 2 frames\\)"
  CREATES ${sim_dir}/jelly2d_learned32.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED sim_nclaw_law32)
# -reference of another scene (the 1000-particle cube) or a missing one: refused before simulating.
physml_cli_test(NAME cli.simulate.reference_of_another_scene EXIT 1 COMMAND physml_cli simulate -output ${sim_dir}/ref_bad.h5
  -frames 12 -mpm_dim 2 -mpm_cells 16 -body0_lower 0.3,0.2 -body0_upper 0.55,0.4 -body0_particles_per_cell_axis 2
  -threads 1 -reference ${sim_dir}/cube.h5
  OUTPUT "physml simulate: error: -reference '.*cube.h5' holds 1000 particles; this scene has 56: expected a Trajectory of the same scene"
  ABSENT ${sim_dir}/ref_bad.h5 ${sim_dir}/ref_bad.h5.partial PROPERTIES LABELS cli FIXTURES_REQUIRED sim_cube)
physml_cli_test(NAME cli.simulate.reference_missing EXIT 1 COMMAND physml_cli simulate -output ${sim_dir}/ref_bad.h5
  -frames 2 -threads 1 -reference ${sim_dir}/no_such.h5
  OUTPUT "physml simulate: error: -reference '.*no_such.h5' does not exist"
  ABSENT ${sim_dir}/ref_bad.h5 ${sim_dir}/ref_bad.h5.partial PROPERTIES LABELS cli)
physml_cli_test(NAME cli.train.nclaw_bad_dtype EXIT 1 COMMAND physml_cli train -model nclaw_elastic -data ${sim_dir}/jelly2d.h5
  -output ${sim_dir}/nclaw_bad_dtype -epochs 1 -dtype float16
  OUTPUT "option -dtype: unknown value 'float16'; expected one of: float64, float32" ABSENT ${sim_dir}/nclaw_bad_dtype
  PROPERTIES LABELS cli FIXTURES_REQUIRED sim_nclaw_data)
# The trained law in place of the analytic one, on the training scene.
physml_cli_test(NAME cli.simulate.trained_law COMMAND physml_cli simulate -output ${sim_dir}/jelly2d_learned.h5 -frames 12
  -mpm_dim 2 -mpm_cells 16 -mpm_dt 1e-3 -mpm_substeps 2 -body0_lower 0.3,0.2 -body0_upper 0.55,0.4
  -body0_particles_per_cell_axis 2 -body0_velocity 0.5,-4 -body0_angular_velocity 0 -threads 1
  -law ${sim_dir}/nclaw_run/best.h5
  OUTPUT "law: nclaw_elastic from '.*nclaw_run/best.h5' for every body" "wrote '.*jelly2d_learned.h5' \\(13 frames of 56 particles"
  CREATES ${sim_dir}/jelly2d_learned.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED sim_nclaw_law)
# NCLaw's whole material (elastic + plastic network, one checkpoint, two learning rates), and
# the simulator running both networks.
physml_cli_test(NAME cli.train.nclaw_material COMMAND physml_cli train -model nclaw -data ${sim_dir}/jelly2d.h5
  -output ${sim_dir}/nclaw_material -epochs 2 -segment_min 3 -segment_max 6 -nclaw_plastic_lr_scale 0.2 -threads 1
  OUTPUT "training nclaw \\(11008 parameters\\) through the differentiable MPM on .*jelly2d.h5: 56 particles, 13 frames"
         "epoch 2  train loss [0-9.e+-]+  rollout MSE [0-9.e+-]+"
  CREATES ${sim_dir}/nclaw_material/last.h5 ${sim_dir}/nclaw_material/best.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED sim_nclaw_data FIXTURES_SETUP sim_nclaw_material)
physml_cli_test(NAME cli.simulate.trained_material COMMAND physml_cli simulate -output ${sim_dir}/jelly2d_material.h5
  -frames 12 -mpm_dim 2 -mpm_cells 16 -mpm_dt 1e-3 -mpm_substeps 2 -body0_lower 0.3,0.2 -body0_upper 0.55,0.4
  -body0_particles_per_cell_axis 2 -body0_velocity 0.5,-4 -body0_angular_velocity 0 -threads 1
  -law ${sim_dir}/nclaw_material/best.h5
  OUTPUT "law: nclaw from '.*nclaw_material/best.h5' for every body \\(elastic and plastic networks\\)"
         "wrote '.*jelly2d_material.h5' \\(13 frames of 56 particles"
  CREATES ${sim_dir}/jelly2d_material.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED sim_nclaw_material)
# Two materials, each with its own trained law (-law_<material>).
set(two_materials -frames 4 -mpm_dim 2 -mpm_cells 16 -mpm_dt 1e-3 -mpm_substeps 2 -bodies 2
  -body0_lower 0.2,0.2 -body0_upper 0.4,0.4 -body1_material plasticine -body1_lower 0.55,0.2 -body1_upper 0.75,0.4
  -body0_velocity 1,0 -body1_velocity -1,0 -body0_angular_velocity 0 -body1_angular_velocity 0 -threads 1)
physml_cli_test(NAME cli.simulate.law_per_material COMMAND physml_cli simulate -output ${sim_dir}/two_laws.h5 ${two_materials}
  -law_jelly ${sim_dir}/nclaw_run/best.h5 -law_plasticine ${sim_dir}/nclaw_material/best.h5
  OUTPUT "simulating 5 of 5 frames of [0-9]+ particles \\(2-D, 2 material\\(s\\)\\)"
         "law: nclaw_elastic from '.*nclaw_run/best.h5' for the jelly bodies \\(elastic only, no plasticity\\)"
         "law: nclaw from '.*nclaw_material/best.h5' for the plasticine bodies \\(elastic and plastic networks\\)"
         "wrote '.*two_laws.h5' \\(5 frames of"
  CREATES ${sim_dir}/two_laws.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED "sim_nclaw_law;sim_nclaw_material")
physml_cli_test(NAME cli.simulate.law_per_material_missing EXIT 1 COMMAND physml_cli simulate -output ${sim_dir}/two_bad.h5
  ${two_materials} -law_jelly ${sim_dir}/nclaw_run/best.h5
  OUTPUT "physml simulate: error: -law_plasticine: the scene has plasticine bodies but no law for them"
  ABSENT ${sim_dir}/two_bad.h5 ${sim_dir}/two_bad.h5.partial PROPERTIES LABELS cli FIXTURES_REQUIRED sim_nclaw_law)
physml_cli_test(NAME cli.train.nclaw_needs_a_trajectory EXIT 1 COMMAND physml_cli train -model nclaw_elastic
  -data ${CMAKE_CURRENT_BINARY_DIR}/generate_data/darcy.h5 -output ${sim_dir}/nclaw_bad
  OUTPUT "physml train: error: .*darcy.h5' holds format 'physml.dataset', expected 'physml.trajectory'"
  ABSENT ${sim_dir}/nclaw_bad/last.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED gen_darcy)

# A body of two overlapping boxes (-body0_parts 2): 9 + 6 lattice points, one shared.
physml_cli_test(NAME cli.simulate.union_body COMMAND physml_cli simulate -output ${sim_dir}/union.h5 -frames 2 -threads 1
  -mpm_dim 2 -mpm_cells 10 -body0_lower 0.2,0.2 -body0_upper 0.5,0.5 -body0_parts 2 -body0_part1_lower 0.4,0.4
  -body0_part1_upper 0.7,0.6
  OUTPUT "simulating 3 of 3 frames of 14 particles \\(2-D, 1 material\\(s\\)\\)"
  CREATES ${sim_dir}/union.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED sim_clean)
physml_cli_test(NAME cli.simulate.union_bad_part COMMAND physml_cli simulate -output ${sim_dir}/union_bad.h5 -frames 2
  -mpm_dim 2 -body0_parts 2 -body0_part1_shape sphere -body0_part1_radius -1
  EXIT 1 OUTPUT "physml simulate: error: body 0 \\(-body0_\\*\\): part 1 \\(-part1_\\*\\): .*radius"
  ABSENT ${sim_dir}/union_bad.h5 ${sim_dir}/union_bad.h5.partial PROPERTIES LABELS cli)
