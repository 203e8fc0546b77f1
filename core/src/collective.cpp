#include "physml/core/collective.hpp"

#include "physml/core/error.hpp"

#include <string>

namespace physml {

void run_collectively(MPI_Comm comm, const std::function<void()>& f) {
  int size = 1, rank = 0;
  MPI_Comm_size(comm, &size);
  if (size == 1) return f();
  MPI_Comm_rank(comm, &rank);
  int kind = 0;  // 0 ok, 1 error, 2 non-finite
  std::string message;
  try {
    f();
  } catch (const NonFiniteError& e) {
    kind = 2;
    message = e.what();
  } catch (const std::exception& e) {
    kind = 1;
    message = e.what();
  }
  int failed = kind ? rank : size, first = size;
  PHYSML_CHECK(MPI_Allreduce(&failed, &first, 1, MPI_INT, MPI_MIN, comm) == MPI_SUCCESS,
               "run_collectively: MPI_Allreduce failed");
  if (first == size) return;
  long header[2] = {kind, static_cast<long>(message.size())};
  PHYSML_CHECK(MPI_Bcast(header, 2, MPI_LONG, first, comm) == MPI_SUCCESS, "run_collectively: MPI_Bcast failed");
  message.resize(static_cast<size_t>(header[1]));
  if (header[1] > 0)
    PHYSML_CHECK(MPI_Bcast(message.data(), static_cast<int>(header[1]), MPI_CHAR, first, comm) == MPI_SUCCESS,
                 "run_collectively: MPI_Bcast failed");
  if (rank != first) message = "on rank " + std::to_string(first) + ": " + message;
  if (header[0] == 2) throw NonFiniteError(message, __FILE__, __LINE__);
  throw Error(message, __FILE__, __LINE__);
}

}  // namespace physml
