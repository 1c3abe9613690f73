"""Celery tasks of conversations: thin wrappers that take ids and call one service."""

from celery import shared_task

from .answering import conversation_answer


@shared_task(name="conversations.tasks.agent_answer", ignore_result=True, acks_late=True)
def agent_answer(conversation_id: int, generation: int) -> None:
    """The agent answers one burst of a contact's messages.

    Idempotent: the answer is unique on (conversation, generation) in the database, so a
    redelivered task, a duplicate or a second worker never sends a second reply."""
    conversation_answer(conversation_id=conversation_id, generation=generation)
