/* closure_loop.c: a coarse Burgers solver of its own, in C99 on FFTW3, that adds a learned
 * closure to its right-hand side through PhysML's C API (physml_c.h), on its own arrays.
 *
 *     burgers_closure_c MODEL SETUP OUTPUT [options]
 *
 * MODEL   a closure model (PhysML Checkpoint or TorchScript) mapping u [1, 1, n] to c(u) [1, 1, n],
 *         loaded with the options prefix closure_ and -closure_dtype float64;
 * SETUP   the run (text, as burgers_closure_reference writes it): key value lines n, viscosity,
 *         dt, steps, t0, forcing_amplitude, forcing_modes, forcing_phase (K values),
 *         forcing_frequency (K values), then u0 and n values;
 * OUTPUT  the final state, one value a line (written to a temporary name, then renamed);
 * options PETSc/PhysML options, e.g. -closure_input_shape 1,1,64 (the model refuses other
 *         grids) or -threads 1.
 *
 * The equation and discretization are those of simulators::CoarseBurgers: on x_j = j/n of [0, 1),
 *     u_t = -(u^2/2)_x + nu u_xx + f(x, t) + c(u),   f = A sum_{k=1..K} sin(2 pi k x + phi_k + omega_k t),
 * Fourier modes m = 0..n/2 (k_m = 2 pi m), the nonlinear term and the closure kept on the modes
 * 3m < n (2/3 rule), the forcing added on its modes 1..K as it is, the viscous term exact
 * (integrating factor), Lawson RK4 in time with the fixed step dt:
 *     a = N(u^, t), b = N(E2 (u^ + h/2 a), t + h/2), c = N(E2 u^ + h/2 b, t + h/2), d = N(E u^ + h E2 c, t + h),
 *     u^(t + h) = E u^ + h/6 (E a + 2 E2 (b + c) + d),   E = exp(-nu k^2 h), E2 = exp(-nu k^2 h / 2),
 * where N(v^, t) = -i k mask FFT(v^2/2) + f^(t) + mask FFT(c(v)), v = IFFT(v^). The model is called
 * at every stage (four times a step) on the stage state v: the input tensor is v itself and the
 * result is written into the program's array c (the C API copies it there once).
 *
 * Exit status: 0 on success, 1 on any error (the message, prefixed "burgers_closure_c: error:",
 * on stderr; for a PhysML call it names the status code), 2 on a wrong command line.
 */
#include <complex.h> /* before fftw3.h: fftw_complex is double complex */
#include <fftw3.h>

#include "physml/embed/physml_c.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char* program = "burgers_closure_c";
static const double pi = 3.14159265358979323846;

static int fail(const char* format, ...) {
  va_list args;
  va_start(args, format);
  fprintf(stderr, "%s: error: ", program);
  vfprintf(stderr, format, args);
  fprintf(stderr, "\n");
  va_end(args);
  return 1;
}

/* A failed PhysML call: what was called, the status name and PhysML's message. */
static int fail_physml(const char* what, int status) {
  return fail("%s: %s: %s", what, physml_status_name(status), physml_last_error());
}

/* ---- the run file ------------------------------------------------------------------------- */

typedef struct {
  long n, steps, modes;
  double viscosity, dt, t0, amplitude;
  double *phase, *frequency, *u0; /* [modes], [modes], [n] */
} run_setup;

typedef struct {
  FILE* file;
  const char* path;
  int line_no;
  char line[4096];
} reader;

/* The next line that is neither empty nor a comment ('#'); 0 at the end of the file. */
static int next_line(reader* r) {
  while (fgets(r->line, sizeof r->line, r->file)) {
    ++r->line_no;
    const char* p = r->line;
    while (*p == ' ' || *p == '\t') ++p;
    if (*p != '#' && *p != '\n' && *p != '\r' && *p != '\0') return 1;
  }
  return 0;
}

/* The next line must be "key v1 ... v_count": exactly `count` numbers, stored in values.
 * Returns 0 or prints the error and returns 1. */
static int read_key(reader* r, const char* key, double* values, long count) {
  if (!next_line(r)) return fail("%s: ended before '%s'", r->path, key);
  char* p = r->line;
  const size_t len = strlen(key);
  while (*p == ' ' || *p == '\t') ++p;
  if (strncmp(p, key, len) != 0 || (p[len] != ' ' && p[len] != '\t' && p[len] != '\n' && p[len] != '\r' && p[len] != '\0'))
    return fail("%s:%d: expected '%s', got '%s'", r->path, r->line_no, key, strtok(r->line, "\r\n"));
  p += len;
  for (long i = 0; i < count; ++i) {
    char* end = NULL;
    errno = 0;
    values[i] = strtod(p, &end);
    if (end == p || errno == ERANGE)
      return fail("%s:%d: '%s' needs %ld number(s), value %ld is missing or not a number", r->path, r->line_no, key, count,
                  i + 1);
    p = end;
  }
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') ++p;
  if (*p != '\0') return fail("%s:%d: '%s' has more than %ld value(s): '%s'", r->path, r->line_no, key, count, strtok(p, "\r\n"));
  return 0;
}

static int read_integer(reader* r, const char* key, long lo, long* out) {
  double v = 0;
  if (read_key(r, key, &v, 1)) return 1;
  if (v != floor(v) || v < (double)lo || v > 1e9) return fail("%s:%d: %s = %g must be an integer >= %ld", r->path, r->line_no, key, v, lo);
  *out = (long)v;
  return 0;
}

static int read_setup(const char* path, run_setup* s) {
  reader r = {NULL, path, 0, {0}};
  r.file = fopen(path, "r");
  if (!r.file) return fail("run file %s cannot be opened: %s", path, strerror(errno));
  int bad = read_integer(&r, "n", 8, &s->n) || read_key(&r, "viscosity", &s->viscosity, 1) || read_key(&r, "dt", &s->dt, 1) ||
            read_integer(&r, "steps", 1, &s->steps) || read_key(&r, "t0", &s->t0, 1) ||
            read_key(&r, "forcing_amplitude", &s->amplitude, 1) || read_integer(&r, "forcing_modes", 0, &s->modes);
  if (!bad && 3 * s->modes >= s->n) bad = fail("%s: %ld forced modes on %ld points (need 3 K < n)", path, s->modes, s->n);
  if (!bad && !(s->viscosity > 0 && s->dt > 0)) bad = fail("%s: viscosity %g and dt %g must be positive", path, s->viscosity, s->dt);
  if (!bad) {
    s->phase = calloc((size_t)s->modes + 1, sizeof(double));
    s->frequency = calloc((size_t)s->modes + 1, sizeof(double));
    s->u0 = calloc((size_t)s->n, sizeof(double));
    bad = !s->phase || !s->frequency || !s->u0 ? fail("out of memory") : 0;
  }
  bad = bad || read_key(&r, "forcing_phase", s->phase, s->modes) || read_key(&r, "forcing_frequency", s->frequency, s->modes) ||
        read_key(&r, "u0", NULL, 0);
  long count = 0;
  while (!bad && next_line(&r)) {
    char* end = NULL;
    const double v = strtod(r.line, &end);
    if (end == r.line) {
      bad = fail("%s:%d: u0 value %ld is not a number: '%s'", path, r.line_no, count + 1, strtok(r.line, "\r\n"));
    } else {
      if (count < s->n) s->u0[count] = v;
      ++count;
    }
  }
  if (!bad && count != s->n)
    bad = fail("%s: u0 has %ld values for a grid of n = %ld points (wrong grid size)", path, count, s->n);
  fclose(r.file);
  return bad;
}

/* ---- the solver --------------------------------------------------------------------------- */

typedef struct {
  long n, nh;
  const run_setup* run;
  fftw_plan r2c, c2r;
  double *k, *mask, *E, *E2;   /* [nh]: 2 pi m, 2/3 rule, exp(-nu k^2 h), exp(-nu k^2 h / 2) */
  double *u, *v, *half_sq, *c; /* [n]: state, stage state, v^2/2, closure c(v) */
  fftw_complex *uh, *a, *b, *cc, *d, *stage, *scratch, *closure_hat; /* [nh] */
  physml_model* model;
  int64_t shape[3];
  physml_tensor in, out; /* the model's views of v and c: [1, 1, n] float64, row-major */
  long closure_calls;
} solver;

/* N(vh, t0 + tau) into r (vh is left unchanged). Returns 0 or prints the error. */
static int rhs(solver* s, const fftw_complex* vh, double t, fftw_complex* r) {
  const long n = s->n, nh = s->nh;
  memcpy(s->scratch, vh, (size_t)nh * sizeof(fftw_complex)); /* c2r overwrites its input */
  fftw_execute_dft_c2r(s->c2r, s->scratch, s->v);
  for (long j = 0; j < n; ++j) s->v[j] /= (double)n;
  for (long j = 0; j < n; ++j) s->half_sq[j] = 0.5 * s->v[j] * s->v[j];
  fftw_execute_dft_r2c(s->r2c, s->half_sq, r);
  for (long m = 0; m < nh; ++m) r[m] *= -I * s->k[m] * s->mask[m];
  const run_setup* p = s->run;
  const double a = 0.5 * (double)n * p->amplitude;
  for (long q = 0; q < p->modes; ++q) {
    const double theta = p->phase[q] + p->frequency[q] * t;
    r[q + 1] += a * sin(theta) - I * (a * cos(theta)); /* sin(2 pi k x + theta): (n/2) e^{i theta} / i */
  }
  const int status = physml_model_forward(s->model, 1, &s->in, 1, &s->out); /* c = closure(v), on v and c themselves */
  if (status != PHYSML_OK) return fail_physml("physml_model_forward (the closure)", status);
  ++s->closure_calls;
  fftw_execute_dft_r2c(s->r2c, s->c, s->closure_hat);
  for (long m = 0; m < nh; ++m) r[m] += s->mask[m] * s->closure_hat[m];
  return 0;
}

/* One Lawson RK4 step of s->u from time t. */
static int step(solver* s, double t) {
  const long n = s->n, nh = s->nh;
  const double h = s->run->dt;
  fftw_execute_dft_r2c(s->r2c, s->u, s->uh);
  for (long m = 0; m < nh; ++m) s->uh[m] *= s->mask[m];
  if (rhs(s, s->uh, t, s->a)) return 1;
  for (long m = 0; m < nh; ++m) s->stage[m] = s->E2[m] * (s->uh[m] + 0.5 * h * s->a[m]);
  if (rhs(s, s->stage, t + 0.5 * h, s->b)) return 1;
  for (long m = 0; m < nh; ++m) s->stage[m] = s->E2[m] * s->uh[m] + 0.5 * h * s->b[m];
  if (rhs(s, s->stage, t + 0.5 * h, s->cc)) return 1;
  for (long m = 0; m < nh; ++m) s->stage[m] = s->E[m] * s->uh[m] + h * s->E2[m] * s->cc[m];
  if (rhs(s, s->stage, t + h, s->d)) return 1;
  for (long m = 0; m < nh; ++m)
    s->stage[m] = s->E[m] * s->uh[m] + (h / 6.0) * (s->E[m] * s->a[m] + 2.0 * s->E2[m] * (s->b[m] + s->cc[m]) + s->d[m]);
  fftw_execute_dft_c2r(s->c2r, s->stage, s->u);
  for (long j = 0; j < n; ++j) s->u[j] /= (double)n;
  return 0;
}

static int solver_create(solver* s, const run_setup* run, physml_model* model) {
  memset(s, 0, sizeof *s);
  s->n = run->n;
  s->nh = run->n / 2 + 1;
  s->run = run;
  s->model = model;
  double** reals[] = {&s->k, &s->mask, &s->E, &s->E2};
  for (int i = 0; i < 4; ++i)
    if (!(*reals[i] = fftw_alloc_real((size_t)s->nh))) return fail("out of memory");
  double** fields[] = {&s->u, &s->v, &s->half_sq, &s->c};
  for (int i = 0; i < 4; ++i)
    if (!(*fields[i] = fftw_alloc_real((size_t)s->n))) return fail("out of memory");
  fftw_complex** spectra[] = {&s->uh, &s->a, &s->b, &s->cc, &s->d, &s->stage, &s->scratch, &s->closure_hat};
  for (int i = 0; i < 8; ++i)
    if (!(*spectra[i] = fftw_alloc_complex((size_t)s->nh))) return fail("out of memory");
  /* FFTW_ESTIMATE leaves the arrays alone while planning; FFTW_UNALIGNED lets one plan run on
   * every array of the solver (fftw_execute_dft_*). */
  s->r2c = fftw_plan_dft_r2c_1d((int)s->n, s->u, s->uh, FFTW_ESTIMATE | FFTW_UNALIGNED);
  s->c2r = fftw_plan_dft_c2r_1d((int)s->n, s->scratch, s->u, FFTW_ESTIMATE | FFTW_UNALIGNED);
  if (!s->r2c || !s->c2r) return fail("FFTW could not plan transforms of %ld points", s->n);
  for (long m = 0; m < s->nh; ++m) {
    s->k[m] = 2.0 * pi * (double)m;
    s->mask[m] = 3 * m < s->n ? 1.0 : 0.0;
    s->E[m] = exp(-run->viscosity * run->dt * s->k[m] * s->k[m]);
    s->E2[m] = exp(-0.5 * run->viscosity * run->dt * s->k[m] * s->k[m]);
  }
  memcpy(s->u, run->u0, (size_t)s->n * sizeof(double));
  s->shape[0] = 1;
  s->shape[1] = 1;
  s->shape[2] = s->n;
  physml_tensor in = {s->v, PHYSML_FLOAT64, PHYSML_ROW_MAJOR, 3, s->shape, NULL};
  physml_tensor out = {s->c, PHYSML_FLOAT64, PHYSML_ROW_MAJOR, 3, s->shape, NULL};
  s->in = in;
  s->out = out;
  return 0;
}

static void solver_destroy(solver* s) {
  if (s->r2c) fftw_destroy_plan(s->r2c);
  if (s->c2r) fftw_destroy_plan(s->c2r);
  double* reals[] = {s->k, s->mask, s->E, s->E2, s->u, s->v, s->half_sq, s->c};
  for (int i = 0; i < 8; ++i) fftw_free(reals[i]);
  fftw_complex* spectra[] = {s->uh, s->a, s->b, s->cc, s->d, s->stage, s->scratch, s->closure_hat};
  for (int i = 0; i < 8; ++i) fftw_free(spectra[i]);
}

/* The state to `path`, one value a line, through a temporary file and a rename. */
static int write_state(const char* path, const solver* s, double t, const char* model_path) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE* f = fopen(tmp, "w");
  if (!f) return fail("cannot write %s: %s", tmp, strerror(errno));
  fprintf(f, "# %s: final state at t = %.17g after %ld steps, n = %ld, closure %s\n", program, t, s->run->steps, s->n,
          model_path);
  for (long j = 0; j < s->n; ++j) fprintf(f, "%.17g\n", s->u[j]);
  if (fclose(f) != 0) {
    remove(tmp);
    return fail("cannot write %s", tmp);
  }
  if (rename(tmp, path) != 0) {
    remove(tmp);
    return fail("cannot rename %s to %s: %s", tmp, path, strerror(errno));
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 4 || argv[1][0] == '-' || argv[2][0] == '-' || argv[3][0] == '-') {
    fprintf(stderr, "usage: %s MODEL SETUP OUTPUT [PhysML/PETSc options, e.g. -closure_input_shape 1,1,64]\n", program);
    return 2;
  }
  const char *model_path = argv[1], *setup_path = argv[2], *output_path = argv[3];
  /* PETSc sees the program name and the options after the three paths. */
  int pargc = argc - 3;
  char** pargv = argv + 3;
  pargv[0] = argv[0];

  run_setup run;
  memset(&run, 0, sizeof run);
  solver s;
  memset(&s, 0, sizeof s);
  physml_model* model = NULL;
  int result = 1, status = physml_initialize(&pargc, &pargv);
  if (status != PHYSML_OK) {
    fail_physml("physml_initialize", status);
    goto done;
  }
  if (read_setup(setup_path, &run)) goto done;
  /* The solver computes in float64: the model's parameters are cast at load. */
  if ((status = physml_options_set("-closure_dtype", "float64")) != PHYSML_OK) {
    fail_physml("physml_options_set", status);
    goto done;
  }
  if ((status = physml_model_load(model_path, "closure_", &model)) != PHYSML_OK) {
    fail_physml("physml_model_load", status);
    goto done;
  }
  if (solver_create(&s, &run, model)) goto done;
  double t = run.t0;
  for (long i = 0; i < run.steps; ++i) {
    /* the time of step i as CoarseBurgers forms it: t0 + (i dt + stage offset) */
    if (step(&s, run.t0 + (double)i * run.dt)) {
      fprintf(stderr, "%s: the failure was in step %ld of %ld (t = %g)\n", program, i + 1, run.steps, t);
      goto done;
    }
    t = run.t0 + (double)(i + 1) * run.dt;
    for (long j = 0; j < s.n; ++j)
      if (!isfinite(s.u[j])) {
        fail("the state became non-finite at step %ld (t = %g): the closure or dt = %g made the run unstable", i + 1, t,
             run.dt);
        goto done;
      }
  }
  if (write_state(output_path, &s, t, model_path)) goto done;
  printf("%s: %ld steps of %g on %ld points from t = %g to %g, %ld closure calls through the C API: wrote %s\n", program,
         run.steps, run.dt, s.n, run.t0, t, s.closure_calls, output_path);
  result = 0;
done:
  solver_destroy(&s);
  physml_model_destroy(&model);
  free(run.phase);
  free(run.frequency);
  free(run.u0);
  physml_finalize();
  return result;
}
