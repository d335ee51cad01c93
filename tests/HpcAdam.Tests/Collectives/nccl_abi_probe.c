/* A stand-in for libnccl.so.2 with NCCL's exported signatures (nccl.h), for one purpose: to check
 * that the C# declarations pass what the C ABI expects (the 128-byte ncclUniqueId by value, size_t
 * counts, enum values, the static error string). It records what it was given; the test reads it
 * back through the probe_* functions. It is never a stand-in for NCCL in a test of the product. */
#include <stddef.h>
#include <string.h>

typedef struct { char internal[128]; } ncclUniqueId;

#define COMMUNICATOR ((void *)0x1234)

static unsigned char seen_id[128];
static int seen_ranks = -1, seen_rank = -1, seen_type = -1, seen_op = -1;
static int group_depth, seen_in_group = -1;
static size_t seen_count;
static void *seen_stream = (void *)1;

int ncclGetVersion(int *version) { *version = 22703; return 0; }

int ncclGetUniqueId(ncclUniqueId *id) {
    for (int i = 0; i < 128; i++) id->internal[i] = (char)(i * 7 + 3);
    return 0;
}

int ncclCommInitRank(void **comm, int nranks, ncclUniqueId id, int rank) {
    if (rank < 0 || rank >= nranks) return 4; /* ncclInvalidArgument */
    memcpy(seen_id, id.internal, sizeof seen_id);
    seen_ranks = nranks;
    seen_rank = rank;
    *comm = COMMUNICATOR;
    return 0;
}

int ncclGroupStart(void) { group_depth++; return 0; }

int ncclGroupEnd(void) { return group_depth-- > 0 ? 0 : 5; /* ncclInvalidUsage */ }

int ncclAllReduce(const void *send, void *receive, size_t count, int type, int op, void *comm, void *stream) {
    if (comm != COMMUNICATOR) return 4;
    seen_in_group = group_depth;
    seen_count = count;
    seen_type = type;
    seen_op = op;
    seen_stream = stream;
    return send == receive ? 0 : 5; /* in place, or ncclInvalidUsage */
}

const char *ncclGetErrorString(int result) {
    return result == 4 ? "invalid argument (run with NCCL_DEBUG=WARN for details)" : "unhandled result";
}

int probe_id_byte(int i) { return seen_id[i]; }
int probe_ranks(void) { return seen_ranks; }
int probe_rank(void) { return seen_rank; }
size_t probe_count(void) { return seen_count; }
int probe_type(void) { return seen_type; }
int probe_op(void) { return seen_op; }
int probe_in_group(void) { return seen_in_group; }
int probe_group_depth(void) { return group_depth; }
void *probe_stream(void) { return seen_stream; }
