// The C API (physml_c.h): thin wrappers that translate C arrays into ArrayViews, C++
// exceptions into status codes and messages, and never let an exception through.
#include "physml/embed/physml_c.h"

#include "physml/core/environment.hpp"
#include "physml/core/options.hpp"
#include "physml/embed/model.hpp"
#include "physml/embed/online_trainer.hpp"

#include <torch/torch.h>

#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

struct physml_model {
  std::shared_ptr<physml::embed::Model> model;
};

struct physml_trainer {
  std::shared_ptr<physml::embed::Model> model;  // keeps the model alive
  std::unique_ptr<physml::embed::OnlineTrainer> trainer;
};

namespace {

thread_local std::string last_error;

std::mutex environment_mutex;
std::unique_ptr<physml::Environment> environment;

/// A null pointer or an out-of-range count or code (PHYSML_ERR_INVALID_ARGUMENT).
class InvalidArgumentError : public physml::Error {
public:
  using Error::Error;
};
/// PETSc is not running where the options database is needed (PHYSML_ERR_STATE).
class StateError : public physml::Error {
public:
  using Error::Error;
};

int fail(int status, const std::string& message) {
  last_error = message;
  return status;
}

/// Run `body`, mapping every exception to a status code and the thread's last error.
template <typename F>
int guarded(const char* function, F&& body) noexcept {
  try {
    body();
    return PHYSML_OK;
  } catch (const InvalidArgumentError& e) {
    return fail(PHYSML_ERR_INVALID_ARGUMENT, std::string(function) + ": " + e.what());
  } catch (const StateError& e) {
    return fail(PHYSML_ERR_STATE, std::string(function) + ": " + e.what());
  } catch (const physml::embed::FileNotFoundError& e) {
    return fail(PHYSML_ERR_FILE_NOT_FOUND, std::string(function) + ": " + e.what());
  } catch (const physml::embed::FileFormatError& e) {
    return fail(PHYSML_ERR_FILE_FORMAT, std::string(function) + ": " + e.what());
  } catch (const physml::embed::ShapeError& e) {
    return fail(PHYSML_ERR_SHAPE, std::string(function) + ": " + e.what());
  } catch (const physml::embed::DTypeError& e) {
    return fail(PHYSML_ERR_DTYPE, std::string(function) + ": " + e.what());
  } catch (const physml::NonFiniteError& e) {
    return fail(PHYSML_ERR_NON_FINITE, std::string(function) + ": " + e.what());
  } catch (const physml::Error& e) {
    return fail(PHYSML_ERR_RUNTIME, std::string(function) + ": " + e.what());
  } catch (const c10::Error& e) {
    return fail(PHYSML_ERR_RUNTIME, std::string(function) + ": " + e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    return fail(PHYSML_ERR_OUT_OF_MEMORY, std::string(function) + ": out of memory");
  } catch (const std::exception& e) {
    return fail(PHYSML_ERR_UNKNOWN, std::string(function) + ": " + e.what());
  } catch (...) {
    return fail(PHYSML_ERR_UNKNOWN, std::string(function) + ": unknown exception");
  }
}

c10::ScalarType scalar_type(int dtype) {
  switch (dtype) {
    case PHYSML_FLOAT32: return torch::kFloat32;
    case PHYSML_FLOAT64: return torch::kFloat64;
    case PHYSML_INT32: return torch::kInt32;
    case PHYSML_INT64: return torch::kInt64;
    default:
      throw physml::embed::DTypeError(physml::detail::concat("unknown dtype code ", dtype,
                                                             " (PHYSML_FLOAT32, PHYSML_FLOAT64, PHYSML_INT32, "
                                                             "PHYSML_INT64)"),
                                      __FILE__, __LINE__);
  }
}

int dtype_code(c10::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return PHYSML_FLOAT32;
    case torch::kFloat64: return PHYSML_FLOAT64;
    case torch::kInt32: return PHYSML_INT32;
    case torch::kInt64: return PHYSML_INT64;
    default: return -1;
  }
}

std::vector<physml::embed::ArrayView> views(int n, const physml_tensor* t, const char* what) {
  if (n < 0) throw InvalidArgumentError(physml::detail::concat("negative number of ", what, ": ", n));
  if (n > 0 && t == nullptr) throw InvalidArgumentError(physml::detail::concat(n, " ", what, " but a NULL array"));
  std::vector<physml::embed::ArrayView> out;
  for (int i = 0; i < n; ++i) {
    const auto& a = t[i];
    if (a.ndim < 0 || (a.ndim > 0 && a.shape == nullptr))
      throw InvalidArgumentError(physml::detail::concat(what, " ", i, ": ndim ", a.ndim, " with ",
                                                        a.shape ? "a" : "a NULL", " shape"));
    if (a.layout != PHYSML_ROW_MAJOR && a.layout != PHYSML_COLUMN_MAJOR)
      throw InvalidArgumentError(physml::detail::concat(what, " ", i, ": unknown layout code ", a.layout,
                                                        " (PHYSML_ROW_MAJOR, PHYSML_COLUMN_MAJOR)"));
    physml::embed::ArrayView v;
    v.data = a.data;
    v.dtype = scalar_type(a.dtype);
    v.shape.assign(a.shape, a.shape + a.ndim);
    if (a.strides) v.strides.assign(a.strides, a.strides + a.ndim);
    v.layout = a.layout == PHYSML_COLUMN_MAJOR ? physml::embed::Layout::ColumnMajor : physml::embed::Layout::RowMajor;
    out.push_back(std::move(v));
  }
  return out;
}

void require_petsc(const char* what) {
  if (!physml::Environment::active())
    throw StateError(physml::detail::concat(what, " reads the options database: call physml_initialize (or "
                                                     "PetscInitialize) first"));
}

}  // namespace

extern "C" {

const char* physml_last_error(void) { return last_error.c_str(); }

const char* physml_status_name(int status) {
  switch (status) {
    case PHYSML_OK: return "PHYSML_OK";
    case PHYSML_ERR_INVALID_ARGUMENT: return "PHYSML_ERR_INVALID_ARGUMENT";
    case PHYSML_ERR_FILE_NOT_FOUND: return "PHYSML_ERR_FILE_NOT_FOUND";
    case PHYSML_ERR_FILE_FORMAT: return "PHYSML_ERR_FILE_FORMAT";
    case PHYSML_ERR_SHAPE: return "PHYSML_ERR_SHAPE";
    case PHYSML_ERR_DTYPE: return "PHYSML_ERR_DTYPE";
    case PHYSML_ERR_NON_FINITE: return "PHYSML_ERR_NON_FINITE";
    case PHYSML_ERR_STATE: return "PHYSML_ERR_STATE";
    case PHYSML_ERR_RUNTIME: return "PHYSML_ERR_RUNTIME";
    case PHYSML_ERR_OUT_OF_MEMORY: return "PHYSML_ERR_OUT_OF_MEMORY";
    case PHYSML_ERR_UNKNOWN: return "PHYSML_ERR_UNKNOWN";
    default: return "(unknown status)";
  }
}

}  // extern "C"


namespace {
template <typename T>
void require(const T* p, const char* what) {
  if (p == nullptr) throw InvalidArgumentError(physml::detail::concat(what, " is NULL"));
}
}  // namespace

extern "C" {

int physml_initialize(int* argc, char*** argv) {
  return guarded("physml_initialize", [&] {
    std::lock_guard<std::mutex> lock(environment_mutex);
    if (environment || physml::Environment::active()) return;
    if (argc && argv)
      environment = std::make_unique<physml::Environment>(*argc, *argv);
    else
      environment = std::make_unique<physml::Environment>();
  });
}

int physml_finalize(void) {
  return guarded("physml_finalize", [&] {
    std::lock_guard<std::mutex> lock(environment_mutex);
    environment.reset();
  });
}

int physml_options_set(const char* name, const char* value) {
  return guarded("physml_options_set", [&] {
    require(name, "name");
    require_petsc("physml_options_set");
    std::string key(name);
    if (key.empty() || key[0] != '-') key = "-" + key;
    PHYSML_PETSC(PetscOptionsSetValue(nullptr, key.c_str(), value));
  });
}

int physml_options_insert_file(const char* path) {
  return guarded("physml_options_insert_file", [&] {
    require(path, "path");
    require_petsc("physml_options_insert_file");
    physml::Options().insert_file(path);
  });
}

int physml_model_load(const char* path, const char* options_prefix, physml_model** model) {
  if (model) *model = nullptr;
  return guarded("physml_model_load", [&] {
    require(path, "path");
    require(model, "model (the handle to fill)");
    physml::embed::ModelOptions options;
    if (options_prefix) {
      require_petsc("physml_model_load with an options prefix");
      options.set_from_options(physml::Options(options_prefix));
    }
    auto m = std::make_shared<physml::embed::Model>(physml::embed::Model::load(path, options));
    *model = new physml_model{std::move(m)};
  });
}

int physml_model_destroy(physml_model** model) {
  return guarded("physml_model_destroy", [&] {
    if (!model || !*model) return;
    delete *model;
    *model = nullptr;
  });
}

int physml_model_forward(physml_model* model, int n_inputs, const physml_tensor* inputs, int n_outputs,
                         const physml_tensor* outputs) {
  return guarded("physml_model_forward", [&] {
    require(model, "model");
    model->model->forward(views(n_inputs, inputs, "inputs"), views(n_outputs, outputs, "outputs"));
  });
}

int physml_model_save(const physml_model* model, const char* path) {
  return guarded("physml_model_save", [&] {
    require(model, "model");
    require(path, "path");
    model->model->save(path);
  });
}

int physml_model_dtype(const physml_model* model, int* dtype) {
  return guarded("physml_model_dtype", [&] {
    require(model, "model");
    require(dtype, "dtype");
    *dtype = dtype_code(model->model->dtype());
  });
}

int physml_trainer_create(physml_model* model, const char* options_prefix, physml_trainer** trainer) {
  if (trainer) *trainer = nullptr;
  return guarded("physml_trainer_create", [&] {
    require(model, "model");
    require(trainer, "trainer (the handle to fill)");
    physml::embed::OnlineTrainerOptions options;
    if (options_prefix) {
      require_petsc("physml_trainer_create with an options prefix");
      options.set_from_options(physml::Options(options_prefix));
    }
    auto t = std::make_unique<physml_trainer>();
    t->model = model->model;
    t->trainer = std::make_unique<physml::embed::OnlineTrainer>(*t->model, options);
    *trainer = t.release();
  });
}

int physml_trainer_destroy(physml_trainer** trainer) {
  return guarded("physml_trainer_destroy", [&] {
    if (!trainer || !*trainer) return;
    delete *trainer;
    *trainer = nullptr;
  });
}

int physml_trainer_step(physml_trainer* trainer, int n_inputs, const physml_tensor* inputs, int n_targets,
                        const physml_tensor* targets, double* loss) {
  return guarded("physml_trainer_step", [&] {
    require(trainer, "trainer");
    const double value = trainer->trainer->step(views(n_inputs, inputs, "inputs"), views(n_targets, targets, "targets"));
    if (loss) *loss = value;
  });
}

int physml_trainer_save(const physml_trainer* trainer, const char* path) {
  return guarded("physml_trainer_save", [&] {
    require(trainer, "trainer");
    require(path, "path");
    trainer->trainer->save(path);
  });
}

int physml_trainer_resume(physml_trainer* trainer, const char* path) {
  return guarded("physml_trainer_resume", [&] {
    require(trainer, "trainer");
    require(path, "path");
    trainer->trainer->resume(path);
  });
}

int physml_trainer_steps(const physml_trainer* trainer, int64_t* steps) {
  return guarded("physml_trainer_steps", [&] {
    require(trainer, "trainer");
    require(steps, "steps");
    *steps = trainer->trainer->steps();
  });
}

}  // extern "C"
