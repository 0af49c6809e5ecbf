"""Rank 1 comes too late: both ranks fail with DistStoreError within the timeout."""

import os
import time
from datetime import timedelta

import torch.distributed as dist

if os.environ["RANK"] == "1":
    time.sleep(float(os.environ["LATE"]))
dist.init_process_group(timeout=timedelta(seconds=float(os.environ["TIMEOUT"])))
print("joined", flush=True)
