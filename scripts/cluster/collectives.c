/* A check of MPI across the test cluster (scripts/cluster/selftest.sh builds it with mpicc):
 * every rank reports MPI_Get_processor_name and an environment variable, then rank 0 drives
 * rounds of MPI_Bcast + MPI_Gather (8 bytes each, also after the root slept), MPI_Scatterv +
 * MPI_Gatherv of a large array of doubles (rank 0 keeps no share, as mpiview's controller), and
 * a task farm of MPI_Send/MPI_Recv (what the micro bench's raw job does), blocking and/or
 * nonblocking (MPI_Ibcast, MPI_Igather, MPI_Iscatterv, MPI_Igatherv waited on with MPI_Test
 * loops). Every result is checked; rank 0 prints one line per phase and "collectives: ok".
 *
 *   collectives [--elements N] [--reps R] [--round-trips K] [--idle-ms MS] [--tasks T]
 *               [--mode blocking|nonblocking|both] [--env NAME] [--hugepages 0|1]
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

static int rank, size, hugepages;

/* n doubles; 2 MiB-aligned and madvise(MADV_HUGEPAGE)d with --hugepages (as NumPy's big arrays). */
static double *alloc_doubles(size_t n) {
    if (n == 0) n = 1;
    if (!hugepages) return malloc(n * sizeof(double));
    size_t bytes = (n * sizeof(double) + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
    double *p = aligned_alloc(2u << 20, bytes);
    if (p) madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

static double now(void) { return MPI_Wtime(); }

#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "collectives: rank %d: check failed: ", rank);                   \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fprintf(stderr, "\n");                                                           \
            MPI_Abort(MPI_COMM_WORLD, 3);                                                    \
        }                                                                                    \
    } while (0)

static void wait_test(MPI_Request *req) {
    int done = 0;
    while (!done) MPI_Test(req, &done, MPI_STATUS_IGNORE);
}

static void say(const char *phase, double seconds, const char *extra) {
    if (rank == 0) {
        printf("collectives: %-28s %9.3f s %s\n", phase, seconds, extra ? extra : "");
        fflush(stdout);
    }
}

/* One request broadcast from rank 0, one 8-byte reply from every rank gathered. */
static void round_trip(int nonblocking, uint64_t seq) {
    uint64_t request = rank == 0 ? seq : 0, reply, *replies = NULL;
    uint64_t all[256];
    if (rank == 0) replies = all;
    if (nonblocking) {
        MPI_Request r;
        MPI_Ibcast(&request, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD, &r);
        wait_test(&r);
        reply = request * 1000 + (uint64_t)rank;
        MPI_Igather(&reply, 1, MPI_UINT64_T, replies, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD, &r);
        wait_test(&r);
    } else {
        MPI_Bcast(&request, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
        reply = request * 1000 + (uint64_t)rank;
        MPI_Gather(&reply, 1, MPI_UINT64_T, replies, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    }
    CHECK(request == seq, "bcast %llu got %llu", (unsigned long long)seq, (unsigned long long)request);
    if (rank == 0)
        for (int i = 0; i < size; i++)
            CHECK(all[i] == seq * 1000 + (uint64_t)i, "gather from %d", i);
}

static void round_trips(int nonblocking, int k, int idle_ms) {
    char buf[64];
    double t = now();
    for (int i = 0; i < k; i++) round_trip(nonblocking, (uint64_t)i + 1);
    snprintf(buf, sizeof buf, "(%.1f us each)", (now() - t) / k * 1e6);
    say(nonblocking ? "ibcast+igather" : "bcast+gather", now() - t, buf);
    t = now();
    for (int i = 0; i < 21; i++) {
        if (rank == 0) usleep((useconds_t)idle_ms * 1000);
        round_trip(nonblocking, (uint64_t)i + 7);
    }
    say(nonblocking ? "ibcast+igather after idle" : "bcast+gather after idle", now() - t, NULL);
}

static void scatter_gather(int nonblocking, long n, int reps) {
    int engines = size - 1;
    int *counts = calloc((size_t)size, sizeof(int)), *displs = calloc((size_t)size, sizeof(int));
    long off = 0;
    for (int r = 1; r < size; r++) {
        counts[r] = (int)(n / engines + (r - 1 < n % engines ? 1 : 0));
        displs[r] = (int)off;
        off += counts[r];
    }
    int mine = counts[rank];
    double *data = NULL, *back = NULL, *part = alloc_doubles((size_t)mine);
    if (rank == 0) {
        data = alloc_doubles((size_t)n);
        back = alloc_doubles((size_t)n);
        CHECK(data && back, "out of memory");
    }
    char buf[64];
    for (int rep = 0; rep < reps; rep++) {
        if (rank == 0)
            for (long i = 0; i < n; i++) data[i] = (double)(i + rep);
        MPI_Barrier(MPI_COMM_WORLD);
        double t = now();
        if (nonblocking) {
            MPI_Request r;
            MPI_Iscatterv(data, counts, displs, MPI_DOUBLE, part, mine, MPI_DOUBLE, 0, MPI_COMM_WORLD, &r);
            wait_test(&r);
        } else {
            MPI_Scatterv(data, counts, displs, MPI_DOUBLE, part, mine, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        }
        MPI_Barrier(MPI_COMM_WORLD);
        double ts = now() - t;
        for (int i = 0; i < mine; i++) {
            part[i] += 1.0;
            if (i == 0 || i == mine - 1)
                CHECK(part[i] == (double)(displs[rank] + i + rep) + 1.0, "scattered element %d", i);
        }
        t = now();
        if (nonblocking) {
            MPI_Request r;
            MPI_Igatherv(part, mine, MPI_DOUBLE, back, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD, &r);
            wait_test(&r);
        } else {
            MPI_Gatherv(part, mine, MPI_DOUBLE, back, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        }
        MPI_Barrier(MPI_COMM_WORLD);
        double tg = now() - t;
        if (rank == 0)
            for (long i = 0; i < n; i++) CHECK(back[i] == (double)(i + rep) + 1.0, "gathered element %ld", i);
        snprintf(buf, sizeof buf, "(%.2f / %.2f GB/s)", n * 8 / ts / 1e9, n * 8 / tg / 1e9);
        say(nonblocking ? "iscatterv + igatherv" : "scatterv + gatherv", ts + tg, buf);
    }
    free(data);
    free(back);
    free(part);
    free(counts);
    free(displs);
}

/* Rank 0 keeps two tasks in flight per worker; workers answer each at once. */
static void task_farm(long tasks) {
    uint64_t task, stop = UINT64_MAX;
    double t = now();
    if (rank != 0) {
        for (;;) {
            MPI_Recv(&task, 1, MPI_UINT64_T, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            if (task == stop) return;
            task++;
            MPI_Send(&task, 1, MPI_UINT64_T, 0, 0, MPI_COMM_WORLD);
        }
    }
    long sent = 0, received = 0;
    for (int w = 1; w < size; w++)
        for (int j = 0; j < 2 && sent < tasks; j++, sent++) {
            task = (uint64_t)sent;
            MPI_Send(&task, 1, MPI_UINT64_T, w, 0, MPI_COMM_WORLD);
        }
    while (received < tasks) {
        MPI_Status st;
        MPI_Recv(&task, 1, MPI_UINT64_T, MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, &st);
        received++;
        if (sent < tasks) {
            task = (uint64_t)sent++;
            MPI_Send(&task, 1, MPI_UINT64_T, st.MPI_SOURCE, 0, MPI_COMM_WORLD);
        }
    }
    for (int w = 1; w < size; w++) MPI_Send(&stop, 1, MPI_UINT64_T, w, 0, MPI_COMM_WORLD);
    char buf[64];
    snprintf(buf, sizeof buf, "(%.0f tasks/s)", tasks / (now() - t));
    say("task farm", now() - t, buf);
}

int main(int argc, char **argv) {
    long elements = 10000000, tasks = 0;
    int reps = 1, k = 1000, idle_ms = 20, blocking = 1, nonblocking = 1;
    const char *env = "MPIVIEW_CLUSTER_TOKEN";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--elements")) elements = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--round-trips")) k = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--idle-ms")) idle_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tasks")) tasks = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--env")) env = argv[i + 1];
        else if (!strcmp(argv[i], "--hugepages")) hugepages = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mode")) {
            blocking = strcmp(argv[i + 1], "nonblocking") != 0;
            nonblocking = strcmp(argv[i + 1], "blocking") != 0;
        } else {
            fprintf(stderr, "collectives: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2 || size > 256) {
        if (rank == 0) fprintf(stderr, "collectives: needs 2 to 256 ranks\n");
        MPI_Finalize();
        return 2;
    }

    /* Who runs where, and whether the launcher's environment reached every rank. */
    char name[MPI_MAX_PROCESSOR_NAME] = {0}, value[64] = {0}, line[MPI_MAX_PROCESSOR_NAME + 64];
    int len;
    MPI_Get_processor_name(name, &len);
    const char *v = getenv(env);
    snprintf(value, sizeof value, "%s", v ? v : "(unset)");
    snprintf(line, sizeof line, "%s %s=%s", name, env, value);
    char *lines = rank == 0 ? malloc(sizeof line * (size_t)size) : NULL;
    MPI_Gather(line, sizeof line, MPI_CHAR, lines, sizeof line, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        for (int i = 0; i < size; i++) printf("collectives: rank %d on %s\n", i, lines + i * sizeof line);
        fflush(stdout);
        free(lines);
    }

    for (int nb = 0; nb < 2; nb++) {
        if ((nb && !nonblocking) || (!nb && !blocking)) continue;
        round_trips(nb, k, idle_ms);
        if (elements > 0) scatter_gather(nb, elements, reps);
    }
    if (tasks > 0) task_farm(tasks);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) printf("collectives: ok (%d ranks)\n", size);
    MPI_Finalize();
    return 0;
}
