/* C reference for the C# all-reduce benchmark: plain in-place MPI_Allreduce of floats on
 * MPI_COMM_WORLD, no shim, so the two can be compared size by size. Output follows
 * nccl-tests (busbw = algbw * 2(n-1)/n, the per-link traffic of a ring all-reduce). */
#define _POSIX_C_SOURCE 200809L /* fileno, fsync */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_BAD_ARGUMENTS 2
#define ALIGNMENT 4096
/* Prime, so the pattern does not line up with chunk or page boundaries. */
#define PATTERN_PERIOD 251

struct options {
    int64_t min_bytes;
    int64_t max_bytes;
    int warmup;
    int iters;
    const char *json_path;
    int help;
};

struct result {
    int64_t bytes;
    int64_t count;
    double time_us;
    double algbw_gbs;
    double busbw_gbs;
    int64_t wrong;
};

static const char usage[] =
    "usage: allreduce_bench [--min-bytes N] [--max-bytes N] [--warmup N] [--iters N] [--json FILE]\n"
    "  sizes double from --min-bytes (default 4) to --max-bytes (default 64M); N accepts K/M/G\n"
    "  (powers of 1024); --warmup (default 5) and --iters (default 20) count all-reduces per size\n";

/* Accepts a non-negative integer with an optional K/M/G suffix; 0 on success. */
static int parse_size(const char *text, int64_t *value) {
    if (text == NULL || *text < '0' || *text > '9')
        return -1;
    char *end;
    long long number = strtoll(text, &end, 10);
    int64_t scale = 1;
    switch (*end) {
    case '\0': break;
    case 'K': case 'k': scale = INT64_C(1) << 10; end++; break;
    case 'M': case 'm': scale = INT64_C(1) << 20; end++; break;
    case 'G': case 'g': scale = INT64_C(1) << 30; end++; break;
    default: return -1;
    }
    if (*end != '\0' || number > INT64_MAX / scale)
        return -1;
    *value = (int64_t)number * scale;
    return 0;
}

static int parse_int(const char *text, int minimum, int *value) {
    int64_t number;
    if (parse_size(text, &number) != 0 || number < minimum || number > INT32_MAX)
        return -1;
    *value = (int)number;
    return 0;
}

/* Returns NULL on success, otherwise the message naming the offending argument. */
static const char *parse_options(int argc, char **argv, struct options *options, char *message, size_t length) {
    *options = (struct options){.min_bytes = 4, .max_bytes = INT64_C(64) << 20, .warmup = 5, .iters = 20};
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int bad;
        if (strcmp(name, "--help") == 0) {
            options->help = 1;
            continue;
        } else if (strcmp(name, "--min-bytes") == 0) {
            bad = parse_size(value, &options->min_bytes);
        } else if (strcmp(name, "--max-bytes") == 0) {
            bad = parse_size(value, &options->max_bytes);
        } else if (strcmp(name, "--warmup") == 0) {
            bad = parse_int(value, 0, &options->warmup);
        } else if (strcmp(name, "--iters") == 0) {
            bad = parse_int(value, 1, &options->iters);
        } else if (strcmp(name, "--json") == 0) {
            bad = value == NULL || *value == '\0';
            options->json_path = value;
        } else {
            snprintf(message, length, "allreduce_bench: unknown argument '%s' (see --help)", name);
            return message;
        }
        if (bad) {
            snprintf(message, length, "allreduce_bench: bad or missing value for %s", name);
            return message;
        }
        i++;
    }
    /* The element count of one MPI call is an int. */
    if (options->min_bytes < (int64_t)sizeof(float))
        snprintf(message, length, "allreduce_bench: --min-bytes must be at least %zu", sizeof(float));
    else if (options->max_bytes < options->min_bytes)
        snprintf(message, length, "allreduce_bench: --max-bytes must not be below --min-bytes");
    else if (options->max_bytes / (int64_t)sizeof(float) > INT32_MAX)
        snprintf(message, length, "allreduce_bench: --max-bytes exceeds %lld", (long long)INT32_MAX * 4);
    else
        return NULL;
    return message;
}

static double time_allreduce(float *buffer, int count, const struct options *options) {
    memset(buffer, 0, (size_t)count * sizeof(float));
    for (int i = 0; i < options->warmup; i++)
        MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    double start = MPI_Wtime();
    for (int i = 0; i < options->iters; i++)
        MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    double seconds = (MPI_Wtime() - start) / options->iters;
    /* The slowest rank bounds the collective. */
    MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return seconds;
}

/* Every partial sum is a small integer, exact in float whatever the reduction order, so the
 * check can demand exact equality. */
static int64_t count_wrong(float *buffer, int count, int rank, int size) {
    for (int i = 0; i < count; i++)
        buffer[i] = (float)(i % PATTERN_PERIOD + rank + 1);
    MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    int64_t wrong = 0;
    for (int i = 0; i < count; i++)
        wrong += buffer[i] != (float)(size * (i % PATTERN_PERIOD) + size * (size + 1) / 2);
    MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    return wrong;
}

static struct result measure(float *buffer, int64_t bytes, int rank, int size, const struct options *options) {
    int count = (int)(bytes / (int64_t)sizeof(float));
    double seconds = time_allreduce(buffer, count, options);
    double algbw = seconds > 0 ? (double)bytes / seconds / 1e9 : 0;
    return (struct result){
        .bytes = bytes,
        .count = count,
        .time_us = seconds * 1e6,
        .algbw_gbs = algbw,
        .busbw_gbs = algbw * 2.0 * (size - 1) / size,
        .wrong = count_wrong(buffer, count, rank, size),
    };
}

static void print_header(int size) {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length;
    MPI_Get_library_version(version, &length);
    version[strcspn(version, "\n")] = '\0';
    printf("# world size %d, MPI: %s\n", size, version);
    printf("#\n");
    printf("#%12s %13s %9s %12s %12s %12s %8s\n", "size", "count", "type", "time", "algbw", "busbw", "#wrong");
    printf("#%12s %13s %9s %12s %12s %12s\n", "(B)", "(elements)", "", "(us)", "(GB/s)", "(GB/s)");
}

static void print_row(const struct result *r) {
    printf(" %12lld %13lld %9s %12.2f %12.3f %12.3f %8lld\n", (long long)r->bytes, (long long)r->count, "float",
           r->time_us, r->algbw_gbs, r->busbw_gbs, (long long)r->wrong);
    fflush(stdout);
}

/* Written beside the target and renamed, so a reader never sees a half-written file. */
static int write_json(const char *path, const struct result *results, int rows) {
    char temporary[4096];
    if (snprintf(temporary, sizeof temporary, "%s.tmp", path) >= (int)sizeof temporary)
        return -1;
    FILE *file = fopen(temporary, "w");
    if (file == NULL)
        return -1;
    fprintf(file, "[\n");
    for (int i = 0; i < rows; i++) {
        const struct result *r = &results[i];
        fprintf(file,
                "  {\"bytes\": %lld, \"count\": %lld, \"time_us\": %.3f, \"algbw_gbs\": %.6f, \"busbw_gbs\": %.6f, "
                "\"wrong\": %lld}%s\n",
                (long long)r->bytes, (long long)r->count, r->time_us, r->algbw_gbs, r->busbw_gbs,
                (long long)r->wrong, i + 1 < rows ? "," : "");
    }
    fprintf(file, "]\n");
    int failed = fflush(file) != 0 || fsync(fileno(file)) != 0;
    failed |= fclose(file) != 0;
    if (failed || rename(temporary, path) != 0) {
        remove(temporary);
        return -1;
    }
    return 0;
}

static int run(const struct options *options, int rank, int size) {
    int rows = 0;
    for (int64_t bytes = options->min_bytes; bytes <= options->max_bytes; bytes *= 2)
        rows++;
    /* aligned_alloc wants a multiple of the alignment. */
    size_t capacity = ((size_t)options->max_bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    float *buffer = aligned_alloc(ALIGNMENT, capacity);
    struct result *results = calloc((size_t)rows, sizeof *results);
    if (buffer == NULL || results == NULL) {
        fprintf(stderr, "allreduce_bench: rank %d cannot allocate %zu bytes\n", rank, capacity);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (rank == 0)
        print_header(size);
    int64_t wrong = 0;
    for (int row = 0; row < rows; row++) {
        results[row] = measure(buffer, options->min_bytes << row, rank, size, options);
        wrong += results[row].wrong;
        if (rank == 0)
            print_row(&results[row]);
    }
    int status = wrong > 0;
    if (rank == 0 && options->json_path != NULL && write_json(options->json_path, results, rows) != 0) {
        fprintf(stderr, "allreduce_bench: cannot write %s\n", options->json_path);
        status = 1;
    }
    free(results);
    free(buffer);
    return status;
}

int main(int argc, char **argv) {
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    int rank;
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    struct options options;
    char message[256];
    /* Every rank parses the same argv, so all of them take the same exit. */
    const char *error = parse_options(argc, argv, &options, message, sizeof message);
    int status;
    if (error != NULL) {
        if (rank == 0)
            fprintf(stderr, "%s\n", error);
        status = EXIT_BAD_ARGUMENTS;
    } else if (options.help) {
        if (rank == 0)
            fputs(usage, stdout);
        status = 0;
    } else {
        status = run(&options, rank, size);
    }
    MPI_Finalize();
    return status;
}
