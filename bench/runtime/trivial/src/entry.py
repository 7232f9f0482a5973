"""The smallest Python Worker a user writes: the SDK's entrypoint and one fixed answer."""

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")
