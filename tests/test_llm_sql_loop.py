"""The thread that runs model calls for DuckDB's batch function."""

import asyncio
import threading

from smart_sql.llm_sql import _LoopThread


def test_closing_cancels_a_call_still_running_so_its_caller_returns():
    loop = _LoopThread()
    started, outcome = threading.Event(), {}

    async def slow_model_call():
        started.set()
        await asyncio.sleep(60)

    def caller():
        try:
            loop.run(slow_model_call())
        except BaseException as error:
            outcome["error"] = type(error).__name__

    thread = threading.Thread(target=caller)
    thread.start()
    assert started.wait(5)
    loop.close()
    thread.join(5)
    assert not thread.is_alive() and outcome == {"error": "CancelledError"}
