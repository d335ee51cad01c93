/* Implementation of hpcadam_mpi.h over the system mpi.h; MPI-3 only, no Open MPI or MPICH
 * extensions, so the same source builds against either. */
#define _GNU_SOURCE /* dladdr and RTLD_NOLOAD are GNU extensions */
#include "hpcadam_mpi.h"
#include "bfloat16_sum.h"

#include <dlfcn.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MPI counts are int, so no chunk may exceed INT_MAX. */
static int64_t max_chunk = INT_MAX;

/* Computed once in hpc_init: the split needs a collective, which hpc_local_rank must not
 * impose on callers that ask from one rank only. */
static int node_rank = -1;
static int node_size = -1;

/* The bfloat16 sum (HPC_BFLOAT16), created in hpc_init and freed in hpc_finalize. */
static MPI_Op bfloat16_sum = MPI_OP_NULL;

/* Real statuses rather than MPI_STATUSES_IGNORE: MPICH defines that as (MPI_Status *)1 and
 * declares the parameter as an array, which GCC 11+ reports under -Wstringop-overflow
 * (pmodels/mpich#5687, not to be fixed there). */
struct hpc_request {
    int count;
    MPI_Request *requests;
    MPI_Status *statuses;
};

static int chunk_length(int64_t remaining) {
    return (int)(remaining < max_chunk ? remaining : max_chunk);
}

static int64_t chunk_count(int64_t total) {
    return total / max_chunk + (total % max_chunk != 0);
}

static void free_request(struct hpc_request *pending) {
    free(pending->requests);
    free(pending->statuses);
    free(pending);
}

/* MPI_ERR_IN_STATUS only says that some chunk failed; its status holds the reason. */
static int completion_error(int rc, const struct hpc_request *pending) {
    for (int i = 0; rc == MPI_ERR_IN_STATUS && i < pending->count; i++) {
        int chunk_rc = pending->statuses[i].MPI_ERROR;
        if (chunk_rc != MPI_SUCCESS && chunk_rc != MPI_ERR_PENDING)
            return chunk_rc;
    }
    return rc;
}

/* Room for `chunks` requests (at least one, since calloc(0) may legitimately return NULL). */
static struct hpc_request *new_request(int64_t chunks) {
    if (chunks > INT_MAX)
        return NULL;
    size_t slots = chunks > 0 ? (size_t)chunks : 1;
    struct hpc_request *pending = malloc(sizeof *pending);
    if (pending == NULL)
        return NULL;
    *pending = (struct hpc_request){
        .requests = calloc(slots, sizeof(MPI_Request)),
        .statuses = calloc(slots, sizeof(MPI_Status)),
    };
    if (pending->requests == NULL || pending->statuses == NULL) {
        free_request(pending);
        return NULL;
    }
    return pending;
}

/* Copies at most length-1 bytes and always terminates, so callers may pass any buffer. */
static void copy_truncated(char *buffer, int length, const char *text, int text_length) {
    if (buffer == NULL || length < 1)
        return;
    int n = text_length < length - 1 ? text_length : length - 1;
    memcpy(buffer, text, (size_t)n);
    buffer[n] = '\0';
}

static int to_mpi_thread_level(int level, int *mpi_level) {
    switch (level) {
    case HPC_THREAD_SINGLE: *mpi_level = MPI_THREAD_SINGLE; return MPI_SUCCESS;
    case HPC_THREAD_FUNNELED: *mpi_level = MPI_THREAD_FUNNELED; return MPI_SUCCESS;
    case HPC_THREAD_SERIALIZED: *mpi_level = MPI_THREAD_SERIALIZED; return MPI_SUCCESS;
    case HPC_THREAD_MULTIPLE: *mpi_level = MPI_THREAD_MULTIPLE; return MPI_SUCCESS;
    default: return MPI_ERR_ARG;
    }
}

static int from_mpi_thread_level(int mpi_level) {
    if (mpi_level == MPI_THREAD_MULTIPLE)
        return HPC_THREAD_MULTIPLE;
    if (mpi_level == MPI_THREAD_SERIALIZED)
        return HPC_THREAD_SERIALIZED;
    if (mpi_level == MPI_THREAD_FUNNELED)
        return HPC_THREAD_FUNNELED;
    return HPC_THREAD_SINGLE;
}

/* .NET loads this shim with RTLD_LOCAL, which also keeps libmpi's symbols local. Open MPI 4
 * dlopens its MCA components during MPI_Init, and several (e.g. pml_ob1, btl_tcp) use
 * libmpi's symbols without linking libmpi, so they rely on it being in the global scope.
 * Debian 12's Open MPI 4.1.4 gets away without this only because components that do link
 * libmpi are opened RTLD_GLOBAL first, promoting it as a side effect; nothing guarantees that
 * order in other builds. Re-opening the loaded libmpi with RTLD_NOLOAD|RTLD_GLOBAL promotes it
 * up front without loading anything; elsewhere (MPICH) it is harmless. The handle is kept on
 * purpose: libmpi must stay loaded for the life of the process anyway. */
static void promote_libmpi_to_global(void) {
    Dl_info info;
    if (dladdr((const void *)&MPI_Init, &info) != 0 && info.dli_fname != NULL)
        (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

static int cache_node_rank(void) {
    MPI_Comm node;
    int rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    if (rc != MPI_SUCCESS)
        return rc;
    int rank = -1;
    int size = -1;
    rc = MPI_Comm_rank(node, &rank);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_size(node, &size);
    int free_rc = MPI_Comm_free(&node);
    if (rc == MPI_SUCCESS)
        rc = free_rc;
    if (rc == MPI_SUCCESS) {
        node_rank = rank;
        node_size = size;
    }
    return rc;
}

int hpc_library_version(char *buffer, int length, int *version, int *subversion) {
    if (buffer == NULL || length < 1 || version == NULL || subversion == NULL)
        return MPI_ERR_ARG;
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    int text_length = 0;
    int rc = MPI_Get_library_version(text, &text_length);
    if (rc != MPI_SUCCESS)
        return rc;
    copy_truncated(buffer, length, text, text_length);
    return MPI_Get_version(version, subversion);
}

int hpc_init(int required_thread_level, int *provided_thread_level) {
    int required;
    if (provided_thread_level == NULL || to_mpi_thread_level(required_thread_level, &required) != MPI_SUCCESS)
        return MPI_ERR_ARG;
    promote_libmpi_to_global();
    int provided;
    int rc = MPI_Init_thread(NULL, NULL, required, &provided);
    if (rc != MPI_SUCCESS)
        return rc;
    *provided_thread_level = from_mpi_thread_level(provided);
    rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS)
        rc = MPI_Op_create(sum_bfloat16, 1 /* commutative */, &bfloat16_sum);
    if (rc != MPI_SUCCESS)
        return rc;
    return cache_node_rank();
}

int hpc_finalize(void) {
    if (bfloat16_sum != MPI_OP_NULL)
        MPI_Op_free(&bfloat16_sum);
    return MPI_Finalize();
}

int hpc_rank(int *rank) {
    return rank == NULL ? MPI_ERR_ARG : MPI_Comm_rank(MPI_COMM_WORLD, rank);
}

int hpc_size(int *size) {
    return size == NULL ? MPI_ERR_ARG : MPI_Comm_size(MPI_COMM_WORLD, size);
}

int hpc_local_rank(int *local_rank, int *local_size) {
    if (local_rank == NULL || local_size == NULL)
        return MPI_ERR_ARG;
    if (node_rank < 0)
        return MPI_ERR_OTHER; /* hpc_init has not succeeded */
    *local_rank = node_rank;
    *local_size = node_size;
    return MPI_SUCCESS;
}

/* A reduction's MPI type, element size and operation. */
struct sum_type {
    MPI_Datatype datatype;
    size_t element_size;
    MPI_Op op;
};

/* Validates a reduction's arguments and resolves its type. */
static int reduction_type(const void *buffer, int64_t count, int type, struct sum_type *sum) {
    if (count < 0)
        return MPI_ERR_COUNT;
    if (buffer == NULL && count > 0)
        return MPI_ERR_BUFFER;
    switch (type) {
    case HPC_FLOAT32: *sum = (struct sum_type){MPI_FLOAT, sizeof(float), MPI_SUM}; return MPI_SUCCESS;
    case HPC_FLOAT64: *sum = (struct sum_type){MPI_DOUBLE, sizeof(double), MPI_SUM}; return MPI_SUCCESS;
    case HPC_BFLOAT16:
        *sum = (struct sum_type){MPI_UINT16_T, sizeof(uint16_t), bfloat16_sum};
        return bfloat16_sum == MPI_OP_NULL ? MPI_ERR_OP : MPI_SUCCESS; /* hpc_init has not succeeded */
    default: return MPI_ERR_TYPE;
    }
}

int hpc_allreduce_sum(void *buffer, int64_t count, int type) {
    struct sum_type sum;
    int rc = reduction_type(buffer, count, type, &sum);
    for (int64_t offset = 0; rc == MPI_SUCCESS && offset < count; offset += max_chunk) {
        char *chunk = (char *)buffer + (size_t)offset * sum.element_size;
        rc = MPI_Allreduce(MPI_IN_PLACE, chunk, chunk_length(count - offset), sum.datatype, sum.op, MPI_COMM_WORLD);
    }
    return rc;
}

int hpc_iallreduce_sum(void *buffer, int64_t count, int type, void **request) {
    if (request == NULL)
        return MPI_ERR_ARG;
    *request = NULL;
    struct sum_type sum;
    int rc = reduction_type(buffer, count, type, &sum);
    if (rc != MPI_SUCCESS)
        return rc;
    struct hpc_request *pending = new_request(chunk_count(count));
    if (pending == NULL)
        return MPI_ERR_NO_MEM;
    for (int64_t offset = 0; offset < count; offset += max_chunk) {
        char *chunk = (char *)buffer + (size_t)offset * sum.element_size;
        rc = MPI_Iallreduce(MPI_IN_PLACE, chunk, chunk_length(count - offset), sum.datatype, sum.op, MPI_COMM_WORLD,
                            &pending->requests[pending->count]);
        if (rc != MPI_SUCCESS) {
            /* Chunks already started still use the buffer; they must finish before the
             * caller may touch it again, and there is no handle left to finish them with. */
            MPI_Waitall(pending->count, pending->requests, pending->statuses);
            free_request(pending);
            return rc;
        }
        pending->count++;
    }
    *request = pending;
    return MPI_SUCCESS;
}

/* The request is freed even when completion fails: after an MPI error the standard leaves
 * its state undefined, so there is nothing a caller could retry. */
int hpc_wait(void *request) {
    if (request == NULL)
        return MPI_ERR_REQUEST;
    struct hpc_request *pending = request;
    int rc = completion_error(MPI_Waitall(pending->count, pending->requests, pending->statuses), pending);
    free_request(pending);
    return rc;
}

int hpc_test(void *request, int *completed) {
    if (request == NULL || completed == NULL)
        return MPI_ERR_REQUEST;
    struct hpc_request *pending = request;
    int done = 0;
    int rc = completion_error(MPI_Testall(pending->count, pending->requests, &done, pending->statuses), pending);
    *completed = done || rc != MPI_SUCCESS;
    if (*completed)
        free_request(pending);
    return rc;
}

int hpc_broadcast(void *buffer, int64_t bytes, int root) {
    if (bytes < 0)
        return MPI_ERR_COUNT;
    if (buffer == NULL && bytes > 0)
        return MPI_ERR_BUFFER;
    int rc = MPI_SUCCESS;
    for (int64_t offset = 0; rc == MPI_SUCCESS && offset < bytes; offset += max_chunk)
        rc = MPI_Bcast((char *)buffer + offset, chunk_length(bytes - offset), MPI_BYTE, root, MPI_COMM_WORLD);
    return rc;
}

/* One chunk of every rank's block: the receive type is `length` bytes whose extent is a
 * whole block, so rank i's piece lands at receive + i * bytes_per_rank + offset. */
static int allgather_chunk(const char *send, char *receive, int length, int64_t bytes_per_rank) {
    MPI_Datatype piece;
    MPI_Datatype strided_piece;
    int rc = MPI_Type_contiguous(length, MPI_BYTE, &piece);
    if (rc != MPI_SUCCESS)
        return rc;
    rc = MPI_Type_create_resized(piece, 0, (MPI_Aint)bytes_per_rank, &strided_piece);
    if (rc == MPI_SUCCESS) {
        rc = MPI_Type_commit(&strided_piece);
        if (rc == MPI_SUCCESS)
            rc = MPI_Allgather(send, length, MPI_BYTE, receive, 1, strided_piece, MPI_COMM_WORLD);
        MPI_Type_free(&strided_piece);
    }
    MPI_Type_free(&piece);
    return rc;
}

int hpc_allgather(const void *send, void *receive, int64_t bytes_per_rank) {
    if (bytes_per_rank < 0)
        return MPI_ERR_COUNT;
    if ((send == NULL || receive == NULL) && bytes_per_rank > 0)
        return MPI_ERR_BUFFER;
    int rc = MPI_SUCCESS;
    for (int64_t offset = 0; rc == MPI_SUCCESS && offset < bytes_per_rank; offset += max_chunk)
        rc = allgather_chunk((const char *)send + offset, (char *)receive + offset,
                             chunk_length(bytes_per_rank - offset), bytes_per_rank);
    return rc;
}

int hpc_barrier(void) {
    return MPI_Barrier(MPI_COMM_WORLD);
}

int hpc_abort(int error_code) {
    return MPI_Abort(MPI_COMM_WORLD, error_code);
}

double hpc_wall_time(void) {
    return MPI_Wtime();
}

void hpc_error_string(int error_code, char *buffer, int length) {
    char text[MPI_MAX_ERROR_STRING];
    int text_length = 0;
    if (MPI_Error_string(error_code, text, &text_length) != MPI_SUCCESS)
        text_length = snprintf(text, sizeof text, "unknown MPI error code %d", error_code);
    copy_truncated(buffer, length, text, text_length);
}

void hpc_set_max_chunk_elements(int64_t max_elements) {
    max_chunk = max_elements < 1 || max_elements > INT_MAX ? INT_MAX : max_elements;
}

int64_t hpc_max_chunk_elements(void) {
    return max_chunk;
}
