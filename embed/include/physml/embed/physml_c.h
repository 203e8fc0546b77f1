/* physml_c.h: the C API of PhysML's embedding layer, usable from C (C99) and, through
 * iso_c_binding, from Fortran (embed/fortran/physml.f90).
 *
 * A model handle loads a PhysML Checkpoint or a TorchScript file (detected by content), runs
 * inference on caller arrays without copying the inputs, and trains online. Every function
 * returns a status (PHYSML_OK = 0 or one of the PHYSML_ERR_* codes); the message of the last
 * failed call on the calling thread is returned by physml_last_error(). No function exits the
 * process and no C++ exception crosses this boundary.
 *
 * Threads: physml_model_forward may be called concurrently from several threads on one handle
 * (inference shares the handle's lock) or on separate handles. physml_trainer_step,
 * physml_trainer_resume and physml_model_save lock the model exclusively: concurrent inferences
 * wait for them. Destroying a handle while another thread uses it is undefined. The last error
 * is per thread. docs/embed.md has examples and the whole contract.
 */
#ifndef PHYSML_EMBED_PHYSML_C_H
#define PHYSML_EMBED_PHYSML_C_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes (int). */
#define PHYSML_OK 0
#define PHYSML_ERR_INVALID_ARGUMENT 1 /* null handle or pointer, count or value out of range */
#define PHYSML_ERR_FILE_NOT_FOUND 2   /* the model or checkpoint file does not exist */
#define PHYSML_ERR_FILE_FORMAT 3      /* the file is not a PhysML Checkpoint nor a TorchScript model */
#define PHYSML_ERR_SHAPE 4            /* an array has another shape (or count) than the model's */
#define PHYSML_ERR_DTYPE 5            /* an array has another dtype (or device) than the model's */
#define PHYSML_ERR_NON_FINITE 6       /* NaN or Inf in an input, an output, a target or a loss */
#define PHYSML_ERR_STATE 7            /* PhysML/PETSc not initialized where options are needed */
#define PHYSML_ERR_RUNTIME 8          /* any other error of PhysML or LibTorch (message says) */
#define PHYSML_ERR_OUT_OF_MEMORY 9
#define PHYSML_ERR_UNKNOWN 10         /* an exception of unknown type */

/* Element types of physml_tensor.dtype. */
#define PHYSML_FLOAT32 0
#define PHYSML_FLOAT64 1
#define PHYSML_INT32 2
#define PHYSML_INT64 3

/* Memory orders of physml_tensor.layout. */
#define PHYSML_ROW_MAJOR 0    /* C order: the last index is the fastest */
#define PHYSML_COLUMN_MAJOR 1 /* Fortran order: the first index is the fastest */

/* Caller memory seen as a tensor of `shape` (ndim extents, in the model's index order):
 * element (i0, i1, ...) is at data + sum_k i_k * strides[k] elements. strides == NULL means
 * dense in `layout`. Nothing is copied or owned; inputs are read, never written. */
typedef struct physml_tensor {
  void* data;
  int dtype;
  int layout;
  int ndim;
  const int64_t* shape;
  const int64_t* strides;
} physml_tensor;

typedef struct physml_model physml_model;
typedef struct physml_trainer physml_trainer;

/* Message of the last failed call on this thread ("" if none); valid until the next failing
 * call on this thread. */
const char* physml_last_error(void);
/* Name of a status code ("PHYSML_ERR_SHAPE"). */
const char* physml_status_name(int status);

/* Start MPI, PETSc and LibTorch threads (physml::Environment) unless the host already started
 * PETSc; argc/argv may be NULL. Needed before any call with an options prefix. */
int physml_initialize(int* argc, char*** argv);
/* Stop what physml_initialize started (nothing if the host had started PETSc). */
int physml_finalize(void);
/* Set an option in PETSc's global database ("-closure_dtype", "float64"); value may be NULL. */
int physml_options_set(const char* name, const char* value);
/* Insert a YAML (".yaml"/".yml") or plain PETSc options file into the global database. */
int physml_options_insert_file(const char* path);

/* Load a PhysML Checkpoint or a TorchScript file. options_prefix NULL: default options; else
 * ModelOptions are read under it (-<prefix>device, -<prefix>dtype, -<prefix>check_finite,
 * -<prefix>input_shape). On failure *model is NULL. */
int physml_model_load(const char* path, const char* options_prefix, physml_model** model);
/* Destroy a model (and set *model to NULL); NULL or *model NULL is a no-op. Destroy trainers
 * of the model first or after: they keep the model alive. */
int physml_model_destroy(physml_model** model);
/* Inference: n_inputs arrays in, each of the model's n_outputs results written into the
 * matching output array, whose dtype and shape must equal the result's. */
int physml_model_forward(physml_model* model, int n_inputs, const physml_tensor* inputs, int n_outputs,
                         const physml_tensor* outputs);
/* Write the model (Checkpoint or TorchScript archive, as loaded), atomically. */
int physml_model_save(const physml_model* model, const char* path);
/* The dtype code of the model's parameters (what inputs must have). */
int physml_model_dtype(const physml_model* model, int* dtype);

/* An online trainer of `model`; options_prefix NULL: default options (Adam, lr 1e-3, mse);
 * else OnlineTrainerOptions are read under it (-<prefix>lr, -<prefix>grad_clip, ...). */
int physml_trainer_create(physml_model* model, const char* options_prefix, physml_trainer** trainer);
int physml_trainer_destroy(physml_trainer** trainer);
/* One optimizer step on a batch; *loss (may be NULL) receives the loss before the step. */
int physml_trainer_step(physml_trainer* trainer, int n_inputs, const physml_tensor* inputs, int n_targets,
                        const physml_tensor* targets, double* loss);
/* Checkpoint with optimizer state (exact resume), atomically; and resume from one. */
int physml_trainer_save(const physml_trainer* trainer, const char* path);
int physml_trainer_resume(physml_trainer* trainer, const char* path);
/* Training steps done. */
int physml_trainer_steps(const physml_trainer* trainer, int64_t* steps);

#ifdef __cplusplus
}
#endif

#endif /* PHYSML_EMBED_PHYSML_C_H */
