/*
 * A stand-in libnvidia-ml.so.1 for tests: it implements only the NVML functions kubelab
 * calls, with the signatures of NVIDIA's public nvml.h as documented, and answers from a
 * small text file named by $KUBELAB_NVML_STANDIN (re-read whenever it changes, so a test can
 * make a device disappear or inject an Xid while the kubelet runs). No NVIDIA code is used.
 *
 * The file, one record per line ('#' starts a comment):
 *   driver 550.54.15                 nvmlSystemGetDriverVersion
 *   nvml 12.550.54.15                nvmlSystemGetNVMLVersion
 *   init_error 18                    nvmlInit* fails with this nvmlReturn_t
 *   device IDX k=v ... name=REST     one GPU; keys: uuid, memory_mib, used_mib, util,
 *                                    mem_util, temp, power_mw (temp/power "na" means the
 *                                    card does not support it), lost=1, name (last: the rest)
 *   mig IDX k=v ... name=REST        a MIG device of GPU IDX (keys: uuid, memory_mib,
 *                                    used_mib): the GPU then has MIG enabled
 *   process IDX PID USED_MIB [SM]    a compute process on device IDX; SM: its utilisation
 *                                    sample (percent) for nvmlDeviceGetProcessUtilization
 *   xid IDX CODE                     an Xid critical error event on device IDX
 *   ecc IDX                          a double-bit ECC error event on device IDX
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef int nvmlReturn_t;
typedef struct standin_device *nvmlDevice_t;
typedef struct standin_event_set *nvmlEventSet_t;

enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_UNKNOWN = 999,
};

#define EVENT_DOUBLE_BIT_ECC 0x2ULL
#define EVENT_XID_CRITICAL 0x8ULL
#define MAX_DEVICES 16
#define MAX_PROCS 64
#define MAX_EVENTS 256

typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;
typedef struct {
    nvmlDevice_t device;
    unsigned long long eventType, eventData;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlEventData_t;

struct standin_device {
    int present, index, lost, has_temp, has_power, mig_parent; /* mig_parent -1: a GPU */
    char uuid[96], name[96];
    unsigned long long memory_mib, used_mib;
    unsigned int util, mem_util, temp, power_mw;
};
struct standin_event { int index; unsigned long long type, data; };
struct standin_event_set { unsigned long long types[MAX_DEVICES]; int delivered; };

static struct standin_device devices[MAX_DEVICES];
static int device_count;
#define MAX_MIGS 7 /* per GPU, as on A100/H100 */
static struct standin_device migs[MAX_DEVICES][MAX_MIGS];
static int mig_count[MAX_DEVICES];
static struct {
    int index, has_sm;
    unsigned int pid, sm;
    unsigned long long used_mib;
} procs[MAX_PROCS];
static int proc_count;
static struct standin_event events[MAX_EVENTS];
static int event_count;
static char driver_version[80] = "550.54.15";
static char nvml_version[80] = "12.550.54.15";
static int init_error;
static int initialized;
static struct timespec loaded_mtime;
static ino_t loaded_ino;
static off_t loaded_size;

static void parse_device(char *rest, int is_mig) {
    struct standin_device d;
    memset(&d, 0, sizeof d);
    d.present = 1;
    d.mig_parent = -1;
    d.has_temp = d.has_power = 1;
    d.memory_mib = 16384;
    strcpy(d.name, "Stand-in GPU");
    char *name = strstr(rest, "name=");
    if (name) {
        *name = '\0';
        snprintf(d.name, sizeof d.name, "%s", name + 5);
        d.name[strcspn(d.name, "\r\n")] = '\0';
    }
    char *save = NULL;
    char *tok = strtok_r(rest, " \t\r\n", &save);
    if (!tok) return;
    d.index = atoi(tok);
    if (d.index < 0 || d.index >= MAX_DEVICES) return;
    while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        if (!strcmp(k, "uuid")) snprintf(d.uuid, sizeof d.uuid, "%s", v);
        else if (!strcmp(k, "memory_mib")) d.memory_mib = strtoull(v, NULL, 10);
        else if (!strcmp(k, "used_mib")) d.used_mib = strtoull(v, NULL, 10);
        else if (!strcmp(k, "util")) d.util = (unsigned)atoi(v);
        else if (!strcmp(k, "mem_util")) d.mem_util = (unsigned)atoi(v);
        else if (!strcmp(k, "temp")) { d.has_temp = strcmp(v, "na") != 0; d.temp = (unsigned)atoi(v); }
        else if (!strcmp(k, "power_mw")) { d.has_power = strcmp(v, "na") != 0; d.power_mw = (unsigned)atoi(v); }
        else if (!strcmp(k, "lost")) d.lost = atoi(v);
    }
    if (is_mig) {
        int k = mig_count[d.index];
        if (k >= MAX_MIGS) return;
        if (!d.uuid[0]) snprintf(d.uuid, sizeof d.uuid, "MIG-standin-%d-%d", d.index, k);
        d.mig_parent = d.index;
        d.has_temp = d.has_power = 0; /* MIG devices report no sensors of their own */
        migs[d.index][k] = d;
        mig_count[d.index] = k + 1;
        return;
    }
    if (!d.uuid[0]) snprintf(d.uuid, sizeof d.uuid, "GPU-standin-%d", d.index);
    devices[d.index] = d;
    if (d.index + 1 > device_count) device_count = d.index + 1;
}

/* Re-read the file when its modification time changed; a missing file means no GPUs. */
static void load(void) {
    const char *path = getenv("KUBELAB_NVML_STANDIN");
    struct stat st;
    if (!path || stat(path, &st) != 0) {
        device_count = proc_count = event_count = 0;
        loaded_ino = 0;
        return;
    }
    /* The inode too: tests replace the file by rename, faster than the mtime's tick. */
    if (st.st_mtim.tv_sec == loaded_mtime.tv_sec && st.st_mtim.tv_nsec == loaded_mtime.tv_nsec &&
        st.st_ino == loaded_ino && st.st_size == loaded_size)
        return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    loaded_mtime = st.st_mtim;
    loaded_ino = st.st_ino;
    loaded_size = st.st_size;
    memset(devices, 0, sizeof devices);
    memset(migs, 0, sizeof migs);
    memset(mig_count, 0, sizeof mig_count);
    device_count = proc_count = event_count = 0;
    init_error = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char word[32];
        int used = 0;
        if (sscanf(line, "%31s %n", word, &used) < 1) continue;
        char *rest = line + used;
        if (!strcmp(word, "device")) parse_device(rest, 0);
        else if (!strcmp(word, "mig")) parse_device(rest, 1);
        else if (!strcmp(word, "driver")) sscanf(rest, "%79s", driver_version);
        else if (!strcmp(word, "nvml")) sscanf(rest, "%79s", nvml_version);
        else if (!strcmp(word, "init_error")) init_error = atoi(rest);
        else if (!strcmp(word, "process") && proc_count < MAX_PROCS) {
            int got = sscanf(rest, "%d %u %llu %u", &procs[proc_count].index,
                             &procs[proc_count].pid, &procs[proc_count].used_mib,
                             &procs[proc_count].sm);
            if (got >= 3) {
                procs[proc_count].has_sm = got == 4;
                proc_count++;
            }
        } else if (!strcmp(word, "xid") && event_count < MAX_EVENTS) {
            if (sscanf(rest, "%d %llu", &events[event_count].index, &events[event_count].data) == 2)
                events[event_count++].type = EVENT_XID_CRITICAL;
        } else if (!strcmp(word, "ecc") && event_count < MAX_EVENTS) {
            if (sscanf(rest, "%d", &events[event_count].index) == 1) {
                events[event_count].data = 0;
                events[event_count++].type = EVENT_DOUBLE_BIT_ECC;
            }
        }
    }
    fclose(f);
}

/* The device behind a handle, or an error: not initialised, gone, or lost. */
static nvmlReturn_t device_of(nvmlDevice_t h, struct standin_device **out) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (!h) return NVML_ERROR_INVALID_ARGUMENT;
    load();
    if (!h->present) return NVML_ERROR_GPU_IS_LOST;
    if (h->lost) return NVML_ERROR_GPU_IS_LOST;
    *out = h;
    return NVML_SUCCESS;
}

static nvmlReturn_t copy_text(const char *text, char *buf, unsigned int length) {
    if (!buf) return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(text) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(buf, text);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    load();
    if (init_error) return init_error;
    initialized++;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }
nvmlReturn_t nvmlInit(void) { return nvmlInitWithFlags(0); }

nvmlReturn_t nvmlShutdown(void) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    initialized--;
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t r) {
    switch (r) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    return copy_text(driver_version, version, length);
}
nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length) {
    return copy_text(nvml_version, version, length);
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    load();
    unsigned int n = 0;
    for (int i = 0; i < device_count; i++) n += devices[i].present ? 1 : 0;
    *count = n;
    return NVML_SUCCESS;
}

/* Indexes count present devices only, as NVML's enumeration does after a GPU falls off. */
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (!device) return NVML_ERROR_INVALID_ARGUMENT;
    load();
    unsigned int seen = 0;
    for (int i = 0; i < device_count; i++) {
        if (!devices[i].present) continue;
        if (seen++ == index) {
            *device = &devices[i];
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (!uuid || !device) return NVML_ERROR_INVALID_ARGUMENT;
    load();
    for (int i = 0; i < device_count; i++) {
        if (devices[i].present && !strcmp(devices[i].uuid, uuid)) {
            *device = &devices[i];
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t h, unsigned int *index) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    if (r) return r;
    *index = (unsigned)d->index;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t h, char *name, unsigned int length) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    return r ? r : copy_text(d->name, name, length);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t h, char *uuid, unsigned int length) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    return r ? r : copy_text(d->uuid, uuid, length);
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t h, nvmlMemory_t *memory) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    if (r) return r;
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    memory->total = d->memory_mib << 20;
    memory->used = d->used_mib << 20;
    memory->free = memory->total - memory->used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t h, nvmlMemory_v2_t *memory) {
    nvmlMemory_t m;
    nvmlReturn_t r = nvmlDeviceGetMemoryInfo(h, &m);
    if (r) return r;
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    memory->total = m.total;
    memory->reserved = 0;
    memory->free = m.free;
    memory->used = m.used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t h, nvmlUtilization_t *utilization) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    if (r) return r;
    if (!utilization) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->mig_parent >= 0) return NVML_ERROR_NOT_SUPPORTED;
    utilization->gpu = d->util;
    utilization->memory = d->mem_util;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t h, int sensorType, unsigned int *temp) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    if (r) return r;
    if (sensorType != 0 || !temp) return NVML_ERROR_INVALID_ARGUMENT;
    if (!d->has_temp) return NVML_ERROR_NOT_SUPPORTED;
    *temp = d->temp;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t h, unsigned int *power) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    if (r) return r;
    if (!power) return NVML_ERROR_INVALID_ARGUMENT;
    if (!d->has_power) return NVML_ERROR_NOT_SUPPORTED;
    *power = d->power_mw;
    return NVML_SUCCESS;
}

/* Size query with infos == NULL answers INSUFFICIENT_SIZE and the count, as NVML does. */
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t h, unsigned int *infoCount,
                                                     nvmlProcessInfo_t *infos) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    if (r) return r;
    if (!infoCount) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int n = 0;
    if (d->mig_parent >= 0) { /* processes are listed per GPU in the file */
        *infoCount = 0;
        return NVML_SUCCESS;
    }
    for (int i = 0; i < proc_count; i++) n += procs[i].index == d->index ? 1 : 0;
    if (n == 0) {
        *infoCount = 0;
        return NVML_SUCCESS;
    }
    if (!infos || *infoCount < n) {
        *infoCount = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    unsigned int k = 0;
    for (int i = 0; i < proc_count; i++) {
        if (procs[i].index != d->index) continue;
        infos[k].pid = procs[i].pid;
        infos[k].usedGpuMemory = procs[i].used_mib << 20;
        infos[k].gpuInstanceId = infos[k].computeInstanceId = 0xFFFFFFFFu;
        k++;
    }
    *infoCount = k;
    return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t h, unsigned int *c,
                                                     nvmlProcessInfo_t *i) {
    return nvmlDeviceGetComputeRunningProcesses_v3(h, c, i);
}

/* One utilisation sample per process given an SM figure; none at all answers NOT_FOUND, as
 * NVML does when no sample is newer than lastSeenTimeStamp. A size query (utilization NULL)
 * answers INSUFFICIENT_SIZE and the count. */
typedef struct {
    unsigned int pid;
    unsigned long long timeStamp;
    unsigned int smUtil, memUtil, encUtil, decUtil;
} nvmlProcessUtilizationSample_t;

nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t h,
                                             nvmlProcessUtilizationSample_t *utilization,
                                             unsigned int *processSamplesCount,
                                             unsigned long long lastSeenTimeStamp) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    if (r) return r;
    if (!processSamplesCount) return NVML_ERROR_INVALID_ARGUMENT;
    (void)lastSeenTimeStamp;
    unsigned int n = 0;
    for (int i = 0; i < proc_count; i++)
        n += (procs[i].index == d->index && procs[i].has_sm && d->mig_parent < 0) ? 1 : 0;
    if (n == 0) return NVML_ERROR_NOT_FOUND;
    if (!utilization || *processSamplesCount < n) {
        *processSamplesCount = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    unsigned int k = 0;
    unsigned long long now = (unsigned long long)time(NULL) * 1000000ULL;
    for (int i = 0; i < proc_count; i++) {
        if (procs[i].index != d->index || !procs[i].has_sm) continue;
        utilization[k].pid = procs[i].pid;
        utilization[k].timeStamp = now;
        utilization[k].smUtil = procs[i].sm;
        utilization[k].memUtil = utilization[k].encUtil = utilization[k].decUtil = 0;
        k++;
    }
    *processSamplesCount = k;
    return NVML_SUCCESS;
}

/* A GPU has MIG enabled when the file lists MIG devices for it; others do not support it. */
nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t h, unsigned int *current, unsigned int *pending) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    if (r) return r;
    if (d->mig_parent >= 0 || !mig_count[d->index]) return NVML_ERROR_NOT_SUPPORTED;
    if (!current || !pending) return NVML_ERROR_INVALID_ARGUMENT;
    *current = *pending = 1; /* NVML_DEVICE_MIG_ENABLE */
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t h, unsigned int *count) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    if (r) return r;
    if (d->mig_parent >= 0 || !mig_count[d->index]) return NVML_ERROR_NOT_SUPPORTED;
    *count = MAX_MIGS;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t h, unsigned int index,
                                                 nvmlDevice_t *mig) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    if (r) return r;
    if (!mig || index >= MAX_MIGS) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->mig_parent >= 0 || index >= (unsigned)mig_count[d->index]) return NVML_ERROR_NOT_FOUND;
    *mig = &migs[d->index][index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t h, unsigned long long *types) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    if (r) return r;
    *types = EVENT_DOUBLE_BIT_ECC | EVENT_XID_CRITICAL;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    *set = calloc(1, sizeof(struct standin_event_set));
    load();
    /* A new set sees only what happens from now on. */
    (*set)->delivered = event_count;
    return *set ? NVML_SUCCESS : NVML_ERROR_UNKNOWN;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t h, unsigned long long types, nvmlEventSet_t set) {
    struct standin_device *d;
    nvmlReturn_t r = device_of(h, &d);
    if (r) return r;
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    if (types & ~(EVENT_DOUBLE_BIT_ECC | EVENT_XID_CRITICAL)) return NVML_ERROR_NOT_SUPPORTED;
    set->types[d->index] |= types;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (!set || !data) return NVML_ERROR_INVALID_ARGUMENT;
    struct timespec step = {0, 10 * 1000 * 1000};
    for (unsigned int waited = 0;; waited += 10) {
        load();
        if (set->delivered > event_count) set->delivered = event_count; /* file rewritten */
        while (set->delivered < event_count) {
            struct standin_event *e = &events[set->delivered++];
            if (e->index < 0 || e->index >= MAX_DEVICES) continue;
            if (!(set->types[e->index] & e->type)) continue;
            memset(data, 0, sizeof *data);
            data->device = &devices[e->index];
            data->eventType = e->type;
            data->eventData = e->data;
            data->gpuInstanceId = data->computeInstanceId = 0xFFFFFFFFu;
            return NVML_SUCCESS;
        }
        if (waited >= timeoutms) return NVML_ERROR_TIMEOUT;
        nanosleep(&step, NULL);
    }
}
nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    return nvmlEventSetWait_v2(set, data, timeoutms);
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    free(set);
    return NVML_SUCCESS;
}
