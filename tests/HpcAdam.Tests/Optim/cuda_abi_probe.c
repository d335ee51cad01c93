/* A stand-in for libcuda.so.1 and libnvrtc.so with the signatures of cuda.h and nvrtc.h, for one
 * purpose: to check that the C# declarations and the launcher pass what the C ABI expects (handles
 * as pointers, CUdevice as int, size_t sizes, option arrays, kernelParams as void** with one
 * pointer per argument, the AdamScalars struct by value, the 64-bit count, stream 0, the primary
 * context current at load and launch). It records what it was given; the test reads it back
 * through the probe_* functions. It compiles nothing and runs nothing: never a stand-in for CUDA
 * in a test of the product. */
#include <stddef.h>
#include <string.h>

typedef struct { float inverseKappa, gamma1, keep1, gamma2, keep2, weightDecayFactor, stepSize, inverseBiasCorrection2, epsilon;
                 int meanOfSquares, epsilonInsideSqrt; } AdamScalars;

#define CONTEXT ((void *)0xC0)
#define MODULE ((void *)0xD0)
static const char *kernel_names[] = {"hpcadam_adam_step", "hpcadam_adagrad_step", "hpcadam_scaled_descent", "hpcadam_accumulate"};
static const char cubin[] = "probe cubin";

static unsigned seen_init_flags = 99;
static int context_depth, depth_at_load = -1, depth_at_launch = -1;
static char seen_options[256];
static int seen_option_count = -1;
static size_t seen_source_length;
static char seen_program_name[64];
static size_t kernel_index = 99;
static unsigned seen_grid[3], seen_block[3], seen_shared = 99;
static void *seen_stream = (void *)1;
static void *seen_pointers[5];
static AdamScalars seen_scalars;
static long long seen_count;

/* libcuda.so.1 */
int cuInit(unsigned flags) { seen_init_flags = flags; return 0; }
int cuDeviceGet(int *device, int ordinal) { if (ordinal != 0) return 101; *device = 100; return 0; }
int cuDeviceGetAttribute(int *value, int attribute, int device) {
    if (device != 100) return 101;
    switch (attribute) {
    case 16: *value = 132; return 0;  /* CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT */
    case 75: *value = 9; return 0;    /* ..._COMPUTE_CAPABILITY_MAJOR */
    case 76: *value = 0; return 0;    /* ..._COMPUTE_CAPABILITY_MINOR */
    default: return 1;
    }
}
int cuDevicePrimaryCtxRetain(void **context, int device) { if (device != 100) return 101; *context = CONTEXT; return 0; }
int cuCtxPushCurrent_v2(void *context) { if (context != CONTEXT) return 201; context_depth++; return 0; }
int cuCtxPopCurrent_v2(void **context) { if (context_depth == 0) return 201; context_depth--; *context = CONTEXT; return 0; }
int cuModuleLoadData(void **module, const void *image) {
    depth_at_load = context_depth;
    if (memcmp(image, cubin, sizeof cubin) != 0) return 200; /* CUDA_ERROR_INVALID_IMAGE */
    *module = MODULE;
    return 0;
}
int cuModuleGetFunction(void **function, void *module, const char *name) {
    if (module != MODULE) return 400;
    for (size_t i = 0; i < 4; i++)
        if (strcmp(name, kernel_names[i]) == 0) { *function = (void *)(0xF0 + i); return 0; }
    return 500; /* CUDA_ERROR_NOT_FOUND */
}
int cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shared, void *stream, void **params, void **extra) {
    if (extra != NULL) return 1;
    depth_at_launch = context_depth;
    kernel_index = (size_t)function - 0xF0;
    seen_grid[0] = gx; seen_grid[1] = gy; seen_grid[2] = gz;
    seen_block[0] = bx; seen_block[1] = by; seen_block[2] = bz;
    seen_shared = shared;
    seen_stream = stream;
    /* The pointers first (adam: 5, adagrad: 3, scaled descent: 2, accumulate: 3), then adam's scalars, then the count last. */
    static const int pointers[] = {5, 3, 2, 3}, count_at[] = {6, 4, 4, 3};
    for (int i = 0; i < pointers[kernel_index]; i++) seen_pointers[i] = *(void **)params[i];
    if (kernel_index == 0) seen_scalars = *(AdamScalars *)params[5];
    seen_count = *(long long *)params[count_at[kernel_index]];
    return 0;
}
int cuGetErrorString(int result, const char **text) {
    if (result == 101) { *text = "invalid device ordinal"; return 0; }
    *text = NULL;
    return 1; /* CUDA_ERROR_INVALID_VALUE: not a result this probe knows */
}

/* libnvrtc.so */
int nvrtcVersion(int *major, int *minor) { *major = 12; *minor = 8; return 0; }
int nvrtcGetNumSupportedArchs(int *count) { *count = 3; return 0; }
int nvrtcGetSupportedArchs(int *architectures) { architectures[0] = 80; architectures[1] = 86; architectures[2] = 90; return 0; }
int nvrtcCreateProgram(void **program, const char *source, const char *name, int headers, const char *const *h, const char *const *n) {
    if (headers != 0 || h != NULL || n != NULL) return 4; /* NVRTC_ERROR_INVALID_INPUT */
    seen_source_length = strlen(source);
    strncpy(seen_program_name, name, sizeof seen_program_name - 1);
    *program = (void *)0xB0;
    return 0;
}
int nvrtcCompileProgram(void *program, int count, const char *const *options) {
    if (program != (void *)0xB0) return 5;
    seen_option_count = count;
    seen_options[0] = 0;
    for (int i = 0; i < count; i++) {
        if (i) strncat(seen_options, " ", sizeof seen_options - strlen(seen_options) - 1);
        strncat(seen_options, options[i], sizeof seen_options - strlen(seen_options) - 1);
    }
    return 0;
}
int nvrtcDestroyProgram(void **program) { if (*program != (void *)0xB0) return 5; *program = NULL; return 0; }
int nvrtcGetProgramLogSize(void *program, size_t *size) { (void)program; *size = 1; return 0; }
int nvrtcGetProgramLog(void *program, char *log) { (void)program; log[0] = 0; return 0; }
int nvrtcGetCUBINSize(void *program, size_t *size) { (void)program; *size = sizeof cubin; return 0; }
int nvrtcGetCUBIN(void *program, char *out) { (void)program; memcpy(out, cubin, sizeof cubin); return 0; }
int nvrtcGetPTXSize(void *program, size_t *size) { (void)program; *size = 1; return 0; }
int nvrtcGetPTX(void *program, char *out) { (void)program; out[0] = 0; return 0; }
const char *nvrtcGetErrorString(int result) { return result == 6 ? "NVRTC_ERROR_COMPILATION" : "NVRTC_ERROR_INVALID_INPUT"; }

unsigned probe_init_flags(void) { return seen_init_flags; }
int probe_context_depth(void) { return context_depth; }
int probe_depth_at_load(void) { return depth_at_load; }
int probe_depth_at_launch(void) { return depth_at_launch; }
const char *probe_options(void) { return seen_options; }
int probe_option_count(void) { return seen_option_count; }
size_t probe_source_length(void) { return seen_source_length; }
const char *probe_program_name(void) { return seen_program_name; }
size_t probe_kernel(void) { return kernel_index; }
unsigned probe_grid(int i) { return seen_grid[i]; }
unsigned probe_block(int i) { return seen_block[i]; }
unsigned probe_shared(void) { return seen_shared; }
void *probe_stream(void) { return seen_stream; }
void *probe_pointer(int i) { return seen_pointers[i]; }
AdamScalars probe_scalars(void) { return seen_scalars; }
long long probe_count(void) { return seen_count; }
