// The cost of three idups of the world: posted together, or one after the other (each waited
// for with MPI_Test and 50 us sleeps, as mpiview's waits do). Medians of 15 rounds; rank 0
// prints them (docs/performance.md, "Communicator creation").
//
//   mpicc -O2 -o idup_cost tools/mpi/idup_cost.c && mpirun -n 3 ./idup_cost
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static void wait_all(MPI_Request *r, int n) { int done = 0; while (!done) { MPI_Testall(n, r, &done, MPI_STATUSES_IGNORE); if (!done) usleep(50); } }
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank; MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int n = 3; double tog[15], seq[15];
  for (int round = 0; round < 15; round++) {
    MPI_Comm d[3]; MPI_Request r[3];
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < n; i++) MPI_Comm_idup(MPI_COMM_WORLD, &d[i], &r[i]);
    wait_all(r, n);
    MPI_Barrier(MPI_COMM_WORLD);
    tog[round] = MPI_Wtime() - t0;
    for (int i = 0; i < n; i++) MPI_Comm_free(&d[i]);
    MPI_Barrier(MPI_COMM_WORLD);
    t0 = MPI_Wtime();
    for (int i = 0; i < n; i++) { MPI_Comm_idup(MPI_COMM_WORLD, &d[i], &r[i]); wait_all(&r[i], 1); }
    MPI_Barrier(MPI_COMM_WORLD);
    seq[round] = MPI_Wtime() - t0;
    for (int i = 0; i < n; i++) MPI_Comm_free(&d[i]);
  }
  qsort(tog, 15, sizeof(double), cmp); qsort(seq, 15, sizeof(double), cmp);
  int size; MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0) printf("np %d: 3 idups together %.3f ms, one after the other %.3f ms (medians of 15)\n", size, tog[7] * 1e3, seq[7] * 1e3);
  MPI_Finalize();
  return 0;
}
