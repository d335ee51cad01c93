/* hpcadam_mpi: a thin, portable C shim over the system mpi.h.
 *
 * MPI defines an API, not an ABI (Open MPI handles are pointers, MPICH's are ints), so no
 * MPI type crosses this boundary: callers see plain ints, 64-bit counts, pointers and MPI
 * error codes. Every function returns MPI_SUCCESS (0) or an MPI error code; the communicator
 * uses MPI_ERRORS_RETURN, so a failed call comes back here instead of aborting the job.
 * hpc_error_string turns a code into MPI's own message.
 *
 * All collectives act on MPI_COMM_WORLD. Counts are int64 elements; calls above the chunk
 * limit (INT_MAX elements, lowered by hpc_set_max_chunk_elements for tests) are split into
 * consecutive chunks issued in the same order on every rank.
 */
#ifndef HPCADAM_MPI_H
#define HPCADAM_MPI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Thread levels, mapped onto MPI_THREAD_* inside the shim (their values are not portable). */
enum { HPC_THREAD_SINGLE = 0, HPC_THREAD_FUNNELED = 1, HPC_THREAD_SERIALIZED = 2, HPC_THREAD_MULTIPLE = 3 };

/* Element types of the reductions. MPI has no bfloat16: HPC_BFLOAT16 sums 2-byte elements with an
 * operation of the shim's own, which widens each pair of addends to float32, adds them in float32
 * and rounds the sum to bfloat16 (to nearest, ties to even, as libtorch converts float32 to
 * bfloat16), so every partial sum of the reduction is a bfloat16. A NaN stays a NaN (quiet, its
 * sign kept; libtorch's own NaN bits differ between its scalar and vectorised conversions). */
enum { HPC_FLOAT32 = 0, HPC_FLOAT64 = 1, HPC_BFLOAT16 = 2 };

/* Library identification; valid before hpc_init. `buffer` gets MPI_Get_library_version's text. */
int hpc_library_version(char *buffer, int length, int *version, int *subversion);

int hpc_init(int required_thread_level, int *provided_thread_level);
int hpc_finalize(void);

int hpc_rank(int *rank);
int hpc_size(int *size);
/* Rank and size among the processes that share this node (MPI_COMM_TYPE_SHARED). */
int hpc_local_rank(int *local_rank, int *local_size);

/* In-place sum over all ranks of `count` elements of `type`. */
int hpc_allreduce_sum(void *buffer, int64_t count, int type);

/* Non-blocking in-place sum: *request receives an opaque handle that hpc_wait or hpc_test
 * must complete (and thereby free) before the buffer is read or reused. */
int hpc_iallreduce_sum(void *buffer, int64_t count, int type, void **request);
int hpc_wait(void *request);
/* *completed = 1 (and the request is freed) when done, 0 when still in flight. hpc_wait, and
 * hpc_test on failure, free the request even when they return an error (*completed = 1). */
int hpc_test(void *request, int *completed);

/* `bytes` bytes from `root` to every rank. */
int hpc_broadcast(void *buffer, int64_t bytes, int root);
/* Each rank contributes `bytes_per_rank` bytes; `receive` holds size * bytes_per_rank. */
int hpc_allgather(const void *send, void *receive, int64_t bytes_per_rank);
int hpc_barrier(void);

/* Ends every process of the job with `error_code`; does not return on success. */
int hpc_abort(int error_code);
double hpc_wall_time(void);
/* MPI's message for `error_code` into `buffer` (always NUL-terminated). */
void hpc_error_string(int error_code, char *buffer, int length);

/* Largest chunk (elements for reductions, bytes for broadcast and all-gather) in one MPI
 * call; defaults to INT_MAX. Lowering it lets tests exercise the chunked path cheaply; values
 * below 1 or above INT_MAX select INT_MAX. */
void hpc_set_max_chunk_elements(int64_t max_elements);
int64_t hpc_max_chunk_elements(void);

#ifdef __cplusplus
}
#endif

#endif
