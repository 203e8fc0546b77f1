/* The C API from a program compiled as C (C99): inference on the Python-made TorchScript
 * fixtures checked against an independent evaluation, online training that reduces the loss,
 * a checkpoint that resumes, and every error as a code with a message: wrong shape, wrong
 * dtype, missing file, a file of another kind, NaN input.
 *     test_embed_c FIXTURE_DIR SCRATCH_DIR
 */
#include "check.h"
#include "physml/embed/physml_c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A call that must fail with `code` and a message containing `needle`. */
static void expect_error(int status, int code, const char* needle, const char* what) {
  const char* message = physml_last_error();
  CHECK(status == code, "%s: status %s, expected %s (%s)", what, physml_status_name(status), physml_status_name(code),
        message);
  CHECK(strstr(message, needle) != NULL, "%s: message '%s' lacks '%s'", what, message, needle);
  printf("%-22s -> %-26s %s\n", what, physml_status_name(status), message);
}

static void path_of(char* out, const char* dir, const char* name) { snprintf(out, 4096, "%s/%s", dir, name); }

/* linear.pt: y_i = sum_j W_ij x_j + b_i with W_ij = 0.1 (i + 1) - 0.05 j, b_i = 0.01 (i + 1). */
static double linear(const float* x, int i) {
  double s = 0.01 * (i + 1);
  for (int j = 0; j < 3; ++j) s += (0.1 * (i + 1) - 0.05 * j) * x[j];
  return s;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s FIXTURE_DIR SCRATCH_DIR\n", argv[0]);
    return 2;
  }
  const char* fixtures = argv[1];
  const char* scratch = argv[2];
  char path[4096];
  int status = physml_initialize(NULL, NULL);
  CHECK(status == PHYSML_OK, "physml_initialize: %s", physml_last_error());

  /* ---- inference: linear.pt against the formula ---- */
  physml_model* lin = NULL;
  path_of(path, fixtures, "linear.pt");
  status = physml_model_load(path, NULL, &lin);
  CHECK(status == PHYSML_OK && lin != NULL, "load linear.pt: %s", physml_last_error());
  enum { N = 5 };
  float x[N * 3], y[N * 2];
  for (int k = 0; k < N * 3; ++k) x[k] = (float)sin(0.5 * k + 0.1);
  int64_t xs[2] = {N, 3}, ys[2] = {N, 2};
  physml_tensor in = {x, PHYSML_FLOAT32, PHYSML_ROW_MAJOR, 2, xs, NULL};
  physml_tensor out = {y, PHYSML_FLOAT32, PHYSML_ROW_MAJOR, 2, ys, NULL};
  status = physml_model_forward(lin, 1, &in, 1, &out);
  CHECK(status == PHYSML_OK, "forward: %s", physml_last_error());
  double worst = 0;
  for (int k = 0; k < N; ++k)
    for (int i = 0; i < 2; ++i) worst = fmax(worst, fabs(y[2 * k + i] - linear(x + 3 * k, i)));
  CHECK(worst < 1e-6, "linear.pt differs from W x + b by %g", worst);
  printf("inference: max |y - (W x + b)| = %.3g\n", worst);

  /* Column-major arrays (a Fortran x(N, 3)): the same result. */
  float xc[N * 3], yc[N * 2];
  for (int k = 0; k < N; ++k)
    for (int j = 0; j < 3; ++j) xc[k + N * j] = x[3 * k + j];
  physml_tensor inc = {xc, PHYSML_FLOAT32, PHYSML_COLUMN_MAJOR, 2, xs, NULL};
  physml_tensor outc = {yc, PHYSML_FLOAT32, PHYSML_COLUMN_MAJOR, 2, ys, NULL};
  status = physml_model_forward(lin, 1, &inc, 1, &outc);
  CHECK(status == PHYSML_OK, "column-major forward: %s", physml_last_error());
  for (int k = 0; k < N; ++k)
    for (int i = 0; i < 2; ++i) CHECK(yc[k + N * i] == y[2 * k + i], "column-major (%d, %d)", k, i);

  /* ---- errors: codes and messages ---- */
  float wrong[N * 4];
  int64_t ws[2] = {N, 4}, ys_bad[2] = {N, 3};
  memset(wrong, 0, sizeof wrong);
  physml_tensor out_bad = {y, PHYSML_FLOAT32, PHYSML_ROW_MAJOR, 2, ys_bad, NULL};
  expect_error(physml_model_forward(lin, 1, &in, 1, &out_bad), PHYSML_ERR_SHAPE, "has shape [5, 3]",
               "wrong output shape");
  /* A declared input shape (options under the prefix "lin_"): a wrong input is refused by name. */
  physml_model* checked = NULL;
  CHECK(physml_options_set("-lin_input_shape", "-1,3") == PHYSML_OK, "options_set: %s", physml_last_error());
  path_of(path, fixtures, "linear.pt");
  CHECK(physml_model_load(path, "lin_", &checked) == PHYSML_OK, "load with options: %s", physml_last_error());
  physml_tensor in_bad = {wrong, PHYSML_FLOAT32, PHYSML_ROW_MAJOR, 2, ws, NULL};
  expect_error(physml_model_forward(checked, 1, &in_bad, 1, &out), PHYSML_ERR_SHAPE, "expects [*, 3]",
               "wrong input shape");
  double xd[N * 3];
  for (int k = 0; k < N * 3; ++k) xd[k] = x[k];
  physml_tensor in_double = {xd, PHYSML_FLOAT64, PHYSML_ROW_MAJOR, 2, xs, NULL};
  expect_error(physml_model_forward(lin, 1, &in_double, 1, &out), PHYSML_ERR_DTYPE, "expects Float",
               "wrong dtype");
  x[4] = NAN;
  expect_error(physml_model_forward(lin, 1, &in, 1, &out), PHYSML_ERR_NON_FINITE, "NaN", "NaN input");
  x[4] = 0.0f;
  physml_model* none = NULL;
  path_of(path, scratch, "no_such_model.pt");
  expect_error(physml_model_load(path, NULL, &none), PHYSML_ERR_FILE_NOT_FOUND, "does not exist", "missing file");
  CHECK(none == NULL, "a failed load leaves the handle NULL");
  path_of(path, scratch, "notes.txt");
  FILE* f = fopen(path, "w");
  CHECK(f != NULL, "cannot write %s", path);
  if (f) {
    fputs("not a model\n", f);
    fclose(f);
  }
  expect_error(physml_model_load(path, NULL, &none), PHYSML_ERR_FILE_FORMAT, "neither a PhysML Checkpoint",
               "text file");
  path_of(path, fixtures, "notmodel.zip");
  expect_error(physml_model_load(path, NULL, &none), PHYSML_ERR_FILE_FORMAT, "not a TorchScript model",
               "zip, not TorchScript");
  expect_error(physml_model_forward(NULL, 1, &in, 1, &out), PHYSML_ERR_INVALID_ARGUMENT, "model is NULL",
               "NULL handle");

  /* ---- online training: the loss falls; a checkpoint resumes ---- */
  physml_model* mlp = NULL;
  physml_trainer* trainer = NULL;
  path_of(path, fixtures, "mlp.pt");
  CHECK(physml_model_load(path, NULL, &mlp) == PHYSML_OK, "load mlp.pt: %s", physml_last_error());
  CHECK(physml_options_set("-ctest_lr", "0.01") == PHYSML_OK, "%s", physml_last_error());
  CHECK(physml_trainer_create(mlp, "ctest_", &trainer) == PHYSML_OK, "trainer: %s", physml_last_error());
  enum { B = 32 };
  float bx[B * 3], by[B * 2];
  int64_t bxs[2] = {B, 3}, bys[2] = {B, 2};
  physml_tensor tin = {bx, PHYSML_FLOAT32, PHYSML_ROW_MAJOR, 2, bxs, NULL};
  physml_tensor tt = {by, PHYSML_FLOAT32, PHYSML_ROW_MAJOR, 2, bys, NULL};
  double first = 0, last = 0, loss = 0;
  for (int step = 0; step < 150; ++step) {
    for (int k = 0; k < B; ++k) {
      for (int j = 0; j < 3; ++j) bx[3 * k + j] = (float)sin(0.37 * (step * B + k) + 1.3 * j);
      by[2 * k] = (float)(sin(2 * bx[3 * k]) + 0.5 * bx[3 * k + 1] * bx[3 * k + 2]);
      by[2 * k + 1] = (float)(cos(bx[3 * k + 1]) - bx[3 * k + 2]);
    }
    status = physml_trainer_step(trainer, 1, &tin, 1, &tt, &loss);
    CHECK(status == PHYSML_OK, "step %d: %s", step, physml_last_error());
    if (step == 0) first = loss;
    last = loss;
  }
  printf("online training: loss %.4g -> %.4g after 150 steps\n", first, last);
  CHECK(last < 0.2 * first, "the loss did not fall enough: %g -> %g", first, last);
  by[0] = NAN;
  expect_error(physml_trainer_step(trainer, 1, &tin, 1, &tt, &loss), PHYSML_ERR_NON_FINITE, "NaN",
               "NaN target");
  path_of(path, scratch, "online.h5");
  CHECK(physml_trainer_save(trainer, path) == PHYSML_OK, "save: %s", physml_last_error());
  physml_trainer* again = NULL;
  CHECK(physml_trainer_create(mlp, NULL, &again) == PHYSML_OK, "%s", physml_last_error());
  CHECK(physml_trainer_resume(again, path) == PHYSML_OK, "resume: %s", physml_last_error());
  int64_t steps = 0;
  CHECK(physml_trainer_steps(again, &steps) == PHYSML_OK && steps == 150, "resumed steps %lld", (long long)steps);
  path_of(path, fixtures, "linear.pt");
  expect_error(physml_trainer_resume(again, path), PHYSML_ERR_FILE_FORMAT, "not a PhysML Checkpoint",
               "resume from TorchScript");

  physml_trainer_destroy(&again);
  physml_trainer_destroy(&trainer);
  physml_model_destroy(&mlp);
  physml_model_destroy(&checked);
  physml_model_destroy(&lin);
  CHECK(lin == NULL, "destroy sets the handle to NULL");
  physml_finalize();
  printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
