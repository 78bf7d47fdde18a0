import pytest
from django_q import tasks as django_q_tasks

from sync import tasks
from sync.engine.broker import shared_broker
from sync.inbound import tasks as inbound_tasks


def test_one_broker_per_process():
    assert shared_broker() is shared_broker()


@pytest.mark.django_db(transaction=True)
def test_pushes_and_inbound_events_go_through_the_shared_broker(monkeypatch):
    monkeypatch.setattr(tasks, "async_task", django_q_tasks.async_task)  # the real one
    monkeypatch.setattr(inbound_tasks, "async_task", django_q_tasks.async_task)
    broker = shared_broker()
    broker.purge_queue()
    tasks.enqueue_push(101)
    inbound_tasks.enqueue_events([202, 203])
    assert broker.queue_size() == 3
    queued = []
    while broker.queue_size():
        for task_id, _package in broker.dequeue():
            queued.append(task_id)
            broker.acknowledge(task_id)
    assert len(queued) == 3
