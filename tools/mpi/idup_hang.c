// Open MPI 4.1.4: concurrent MPI_Comm_idup's of one communicator after a communicator some ranks
// are not in. Mode (first argument): 0 = MPI_Comm_create_group among ranks 1..N-1, 1 = a split
// with MPI_UNDEFINED on rank 0, 2 = nothing. Second argument 1: the three idups one at a time.
// A rank whose idups are not done after 10 s aborts the job (exit code 3).
//
//   mpicc -O2 -o idup_hang tools/mpi/idup_hang.c
//   for i in $(seq 150); do mpirun -n 5 ./idup_hang 1 0 > /dev/null || echo hung; done  # some
//   for i in $(seq 150); do mpirun -n 5 ./idup_hang 1 1 > /dev/null || echo hung; done  # none
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static void wait_slowly(MPI_Request *r, int n, int rank) {
  double t0 = now(); int done = 0;
  while (!done) { MPI_Testall(n, r, &done, MPI_STATUSES_IGNORE); if (!done) usleep(500);
    if (now() - t0 > 10) { fprintf(stderr, "rank %d: idup not done after 10 s\n", rank); MPI_Abort(MPI_COMM_WORLD, 3); } }
}
int main(int argc, char **argv) {
  int provided; MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank, size; MPI_Comm_rank(MPI_COMM_WORLD, &rank); MPI_Comm_size(MPI_COMM_WORLD, &size);
  int mode = argc > 1 ? atoi(argv[1]) : 0;
  MPI_Comm node; MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm s[3]; MPI_Request sr[3];
  for (int i = 0; i < 3; i++) MPI_Comm_idup(MPI_COMM_WORLD, &s[i], &sr[i]);
  wait_slowly(sr, 3, rank);
  MPI_Comm parent = s[2];
  MPI_Comm engines = MPI_COMM_NULL;
  if (mode == 0) {  // create_group among the engines
    if (rank != 0) { MPI_Group g, eg; MPI_Comm_group(parent, &g); int zero = 0; MPI_Group_excl(g, 1, &zero, &eg);
      MPI_Comm_create_group(parent, eg, 0, &engines); }
  } else if (mode == 1) {  // split, rank 0 undefined
    MPI_Comm_split(parent, rank == 0 ? MPI_UNDEFINED : 1, rank, &engines);
  } // mode 2: nothing
  MPI_Comm d[3]; MPI_Request r[3];
  int seq = argc > 2 && atoi(argv[2]);
  if (seq) for (int i = 0; i < 3; i++) { MPI_Comm_idup(MPI_COMM_WORLD, &d[i], &r[i]); wait_slowly(&r[i], 1, rank); }
  else { for (int i = 0; i < 3; i++) MPI_Comm_idup(MPI_COMM_WORLD, &d[i], &r[i]);
  wait_slowly(r, 3, rank); }
  MPI_Finalize();
  return 0;
}
