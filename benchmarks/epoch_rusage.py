"""CPU time, its system share and page faults of each training epoch of an ``aerec train``.

    python benchmarks/epoch_rusage.py train --dataset synthetic-ml-25m --model autorec \
        --based item --epochs 2 --ranking-k '' --out DIR

Runs the ``aerec`` command given (any ``aerec train`` options) and prints, for every epoch,
the wall seconds, the user and system CPU seconds of the whole process (all threads) and its
minor page faults, measured around ``Trainer.train_epoch`` alone: data generation, the
checkpoint written after each epoch, the test and the save are left out (``/usr/bin/time
-v`` counts them all). Issue 12's target: system time at most 10 % of an ML-25M-shaped epoch.
"""

from __future__ import annotations

import resource
import sys
import time


def main() -> None:
    from aerec.cli import main as aerec
    from aerec.training import trainer

    train_epoch = trainer.Trainer.train_epoch

    def measured(self, epoch: int) -> dict:
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        out = train_epoch(self, epoch)
        after = resource.getrusage(resource.RUSAGE_SELF)
        user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
        share = 100 * system / max(user + system, 1e-9)
        print(
            f"\nepoch {epoch}: wall {time.perf_counter() - start:.1f} s, user {user:.1f} s, "
            f"system {system:.1f} s ({share:.1f} %), "
            f"minor faults {after.ru_minflt - before.ru_minflt:,}",
            file=sys.stderr,
            flush=True,
        )
        return out

    trainer.Trainer.train_epoch = measured
    aerec(sys.argv[1:])


if __name__ == "__main__":
    main()
