import pytest
from django_q import tasks as django_q_tasks

from sync.engine import queue
from sync.engine.broker import shared_broker


def test_one_broker_per_process():
    assert shared_broker() is shared_broker()


@pytest.mark.django_db(transaction=True)
def test_pushes_and_inbound_events_go_through_the_shared_broker(monkeypatch):
    monkeypatch.setattr(queue, "async_task", django_q_tasks.async_task)  # the real one
    broker = shared_broker()
    broker.purge_queue()
    queue.wake("sync.tasks.push_due")
    queue.wake("sync.inbound.tasks.process_received")
    queue.enqueue("sync.tasks.run_automation_step", 303)
    assert broker.queue_size() == 3
    queued = []
    while broker.queue_size():
        for task_id, _package in broker.dequeue():
            queued.append(task_id)
            broker.acknowledge(task_id)
    assert len(queued) == 3
