"""Celery tasks of conversations: thin wrappers that take ids and call one service."""

from celery import shared_task

from messaging.sending import outbox_send

from .answering import answers_resume, conversation_answer


@shared_task(name="conversations.tasks.agent_answer", ignore_result=True, acks_late=True)
def agent_answer(conversation_id: int, generation: int) -> None:
    """The agent answers one burst of a contact's messages, and its reply is sent at once
    through the outbox's send (which sends a message once, whoever calls it; the tick would
    otherwise pick it up within a tick).

    Idempotent: the answer is unique on (conversation, generation) in the database, so a
    redelivered task, a duplicate or a second worker never sends a second reply."""
    answer = conversation_answer(conversation_id=conversation_id, generation=generation)
    if answer is not None and answer.message_ids:
        outbox_send(message_ids=answer.message_ids)


@shared_task(name="conversations.tasks.answers_resume", ignore_result=True)
def answers_resume_task() -> None:
    """Every minute (beat): queue again the agent answers whose task was lost."""
    answers_resume()
