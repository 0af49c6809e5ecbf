"""Rank 1 dies (MODE=exit) or stalls (MODE=stall) after joining; rank 0 must not hang."""

import os
import time
from datetime import timedelta

import torch
import torch.distributed as dist

dist.init_process_group(timeout=timedelta(seconds=float(os.environ["TIMEOUT"])))
dist.barrier()
if dist.get_rank() == 1:
    if os.environ["MODE"] == "exit":
        os._exit(3)  # a crash: no Python clean-up, no MPI_Finalize
    time.sleep(600)  # alive, but never reaches the collective
dist.all_reduce(torch.ones(3))
print("reduced", flush=True)
