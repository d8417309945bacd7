"""`ecs-agent chat [--thread ID]`: the conversation in a terminal, with progress lines and approval prompts.

Memory: PostgreSQL when DATABASE_URL is set, else a SQLite file in the user's data directory, so
`--thread` continues a conversation after a restart. Approval decisions and the audit log of
writes, and the incidents (one open per service), are kept beside it, with each incident's reports. An approved plan is applied here, in-process; on PostgreSQL it first
takes the service's lease the serverless workflow takes (one remediation per service at a time).
The verification after a change prints what it sees as it polls; Ctrl-C stops that wait, not the chat.
"""
from __future__ import annotations

import getpass
import signal
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

PROMPT = "you> "
EXIT_WORDS = {"exit", "quit", "bye", ":q"}
DATABASE_DOWN = ("The conversation store (PostgreSQL) is unreachable right now ({error}). This turn was not saved: "
                 "say it again when the database is back. Approvals and AWS changes are recorded on their own and "
                 "are never applied twice.")


def run_chat(thread_id: str | None = None, input_fn: Callable[[str], str] = input,
             print_fn: Callable[[str], None] = print, sqlite_path: str | None = None,
             verify_timeout_s: float | None = None) -> int:
    from ..aws.audit_log import LocalAuditLog
    from ..config import ECSDeepAgentConfig
    from ..conversation.graph import CHAT_VERIFY_TIMEOUT_S, Dependencies, build_graph
    from ..conversation.memory import data_dir, default_sqlite_path, open_memory
    from ..operations.approvals import LocalApprovalStore
    from ..operations.local_incidents import LocalIncidentStore
    from ..operations.verifier import StopWaiting

    config = ECSDeepAgentConfig()
    stop_waiting = StopWaiting()
    memory = open_memory(config.database_url, sqlite_path=sqlite_path or default_sqlite_path())
    print_fn(f"[{memory.notice}]")
    deps = Dependencies(config=config, approvals=LocalApprovalStore(data_dir() / "approvals.json"),
                        audit=LocalAuditLog(data_dir() / "audit.jsonl"),
                        incidents=LocalIncidentStore(data_dir() / "incidents.json"), reports_dir=data_dir() / "reports",
                        lock=_service_lease(memory.saver.conn) if memory.kind == "postgres" else None,
                        verify_timeout_s=verify_timeout_s or CHAT_VERIFY_TIMEOUT_S, verify_poll_s=1.0,
                        stop_waiting=stop_waiting)
    graph = build_graph(deps).compile(checkpointer=memory.saver)
    thread = thread_id or f"chat-{uuid.uuid4().hex[:12]}"
    run_config = {"configurable": {"thread_id": thread}}
    resumed = bool(graph.get_state(run_config).values.get("messages"))
    print_fn(f"{'continuing' if resumed else 'new'} conversation {thread} (continue later with "
             f"`ecs-agent chat --thread {thread}`); model: {config.model_name}; type 'exit' to leave")
    try:
        while True:
            try:
                text = input_fn(PROMPT).strip()
            except EOFError:
                break
            if not text:
                continue
            if text.lower() in EXIT_WORDS:
                break
            payload: Any = {"messages": [{"role": "user", "content": text}]}
            try:
                with _ctrl_c_stops_waiting(stop_waiting):
                    while payload is not None:
                        payload = _turn(graph, payload, run_config, input_fn, print_fn)
            except psycopg.OperationalError as exc:  # the conversation store went away mid-conversation
                print_fn(f"agent> {DATABASE_DOWN.format(error=str(exc).strip().splitlines()[0])}")
    except KeyboardInterrupt:
        print_fn("")
    finally:
        memory.close()
    return 0


@contextmanager
def _ctrl_c_stops_waiting(stop_waiting: Any) -> Iterator[None]:
    """During a turn, Ctrl-C ends a verification's wait (the graph runs it in another thread, so it is told, not
    interrupted) and the conversation goes on; with nothing waiting it ends the chat, as at the prompt."""
    def on_ctrl_c(signum: int, frame: Any) -> None:
        if not stop_waiting.stop():
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _service_lease(pool: Any) -> Any:
    """The remediation lock over the checkpointer's connection pool, its table created if missing."""
    from ..incidents.remediation_lock import PooledRemediationLock
    from ..incidents.schema import migrate
    from ..incidents.settings import RuntimeSettings

    with pool.connection() as conn:
        migrate(conn)
    settings = RuntimeSettings.from_env()
    return PooledRemediationLock(pool, wait_s=settings.remediation_lock_wait_s, ttl_s=settings.remediation_lock_ttl_s)


def _turn(graph: Any, payload: Any, run_config: dict[str, Any], input_fn: Callable[[str], str],
          print_fn: Callable[[str], None]) -> Any:
    """Stream one run; print progress and the reply. Returns the resume Command when an approval was asked."""
    from langgraph.types import Command

    pending = None
    # durability="exit": one checkpoint per turn (and at an approval prompt), not one per node
    for mode, chunk in graph.stream(payload, run_config, stream_mode=["updates", "custom"], durability="exit"):
        if mode == "custom" and isinstance(chunk, dict) and chunk.get("progress"):
            print_fn(f"  … {chunk['progress']}")
        elif mode == "updates":
            for node, update in chunk.items():
                if node == "__interrupt__":
                    pending = update[0].value
                elif node == "reply" and update and update.get("messages"):
                    print_fn(f"agent> {update['messages'][-1].content}")
    if pending is None:
        return None
    # the approval brief the email and the page show; after a question, the graph's answer to it
    print_fn(f"agent> {pending.get('answer') or pending['text']}")
    try:
        answer = input_fn("Approve this change? [y/N or a question] ").strip()
    except EOFError:
        answer = ""
    # Enter (or end of input) is the prompt's default, no; anything else goes to the graph, which decides on an
    # explicit yes or no and answers a question by asking again
    return Command(resume={"decision": answer or "reject", "by": getpass.getuser()})
