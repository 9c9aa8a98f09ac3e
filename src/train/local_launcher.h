// `prospect train --nproc N` on one machine: starts N ranks (this program again, through /proc/self/exe, with
// RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set as torchrun sets them) and
// waits for them; when one fails it stops the others. Not here: the rendezvous and collectives
// (distributed.h), several machines (use torchrun), the command line (tools/cmd_train_torch.cpp).
#pragma once
#include <string>
#include <vector>

namespace prospect::train {

// Runs `argv` (this program's train command without --nproc) as ranks 0..n-1 of one machine and waits.
// MASTER_ADDR / MASTER_PORT are kept when set, else 127.0.0.1 and a free loopback port. Returns 0 when every
// rank succeeds; otherwise stops the rest (SIGTERM) and returns the first failure's code. Throws
// prospect::Error when no port can be found or fork fails.
int launch_local_ranks(int n, const std::vector<std::string>& argv);

}  // namespace prospect::train
