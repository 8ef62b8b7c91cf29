// The MPI transport module: initialises MPI when the program has not (and finalises it at
// exit), makes communicators from Fortran handles so the caller never needs mpi.h (and
// Open MPI vs MPICH ABI does not matter to libporta).
#include <dlfcn.h>
#include <mpi.h>

#include <cstdlib>
#include <mutex>

#include "comm/mpi/mpi_comm.h"

namespace porta::comm {
namespace {

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

// Open MPI loads its components with dlopen and they expect libmpi's symbols to be global;
// this module (and with it libmpi) was loaded RTLD_LOCAL by core, so promote libmpi.
void make_libmpi_global() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &info) != 0 && info.dli_fname)
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

void ensure_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return;  // the program owns MPI's lifetime
    make_libmpi_global();
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
      throw Error(Errc::backend_unavailable, "Communicator: MPI_Init_thread failed (is this run under mpirun?)");
    std::atexit(finalize_at_exit);
  });
}

class MpiTransport final : public Transport {
 public:
  explicit MpiTransport(const Settings& s) : settings_(s) {}
  std::string name() const override { return "mpi"; }
  bool host_memory() const override { return true; }
  CommId unique_id() override {
    throw Error(Errc::unsupported,
                "Communicator::unique_id: the mpi transport joins processes through MPI, not an id; use "
                "Communicator::from_mpi");
  }
  std::unique_ptr<Comm> create(const CommId&, int, int, int) override {
    throw Error(Errc::unsupported,
                "Communicator::create: the mpi transport joins processes through MPI, not an id; use "
                "Communicator::from_mpi");
  }
  std::unique_ptr<Comm> from_mpi(int64_t fortran_comm) override {
    ensure_initialized();
    const MPI_Comm base =
        fortran_comm < 0 ? MPI_COMM_WORLD : MPI_Comm_f2c(static_cast<MPI_Fint>(fortran_comm));
    if (base == MPI_COMM_NULL)
      throw Error(Errc::invalid_argument, "Communicator::from_mpi: Fortran handle " + std::to_string(fortran_comm) +
                                              " is MPI_COMM_NULL; pass MPI_Comm_c2f(comm) of a live communicator");
    MPI_Comm dup = MPI_COMM_NULL;  // porta's traffic never mixes with the program's
    if (MPI_Comm_dup(base, &dup) != MPI_SUCCESS)
      throw Error(Errc::comm_failed, "Communicator::from_mpi: MPI_Comm_dup failed");
    return std::make_unique<MpiComm>(dup, settings_);
  }

 private:
  Settings settings_;
};

Transport* create_transport(const Settings& s) { return new MpiTransport(s); }

}  // namespace
}  // namespace porta::comm

PORTA_DEFINE_COMM_TRANSPORT(mpi, porta::comm::create_transport)
