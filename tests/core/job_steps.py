"""A background job for tests of core.jobs: counts to params['steps'], sleeping params['sleep'] s per step."""

import sys
import time

from core.jobs import JobReporter, params_of


def main(folder: str) -> int:
    params = params_of(folder)

    def work(job: JobReporter) -> dict:
        for step in range(params["steps"]):
            job.progress("Counting", step, params["steps"])
            time.sleep(params["sleep"])
        if params.get("fail"):
            from core.errors import DataError

            raise DataError("asked to fail")
        return {"counted": params["steps"]}

    return JobReporter(folder, interval=0.0).run(work)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
