"""Auto-paging iterators over the API's cursor-paginated lists.

for transfer in client.transfers.list(status="failed"):        # every page, lazily
async for transfer in aclient.transfers.list(status="failed"):
first = client.transfers.list(limit=10).first_page()           # one page only
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

from payflow_client.models import Page

T = TypeVar("T")


class Pager(Generic[T]):
    """Iterates over every item of a list, fetching the next page only when it is needed."""

    def __init__(self, fetch: Callable[[str | None], Page[T]], limit: int | None = None) -> None:
        self._fetch = fetch
        self._limit = limit

    def pages(self) -> Iterator[Page[T]]:
        cursor: str | None = None
        while True:
            page = self._fetch(cursor)
            yield page
            if not page.next_cursor or not page.data:
                return
            cursor = page.next_cursor

    def __iter__(self) -> Iterator[T]:
        seen = 0
        for page in self.pages():
            for item in page.data:
                yield item
                seen += 1
                if self._limit is not None and seen >= self._limit:
                    return

    def first_page(self) -> Page[T]:
        return self._fetch(None)

    def to_list(self) -> list[T]:
        return list(self)


class AsyncPager(Generic[T]):
    """The asynchronous twin of `Pager`: `async for item in pager`."""

    def __init__(
        self, fetch: Callable[[str | None], Awaitable[Page[T]]], limit: int | None = None
    ) -> None:
        self._fetch = fetch
        self._limit = limit

    async def pages(self) -> AsyncIterator[Page[T]]:
        cursor: str | None = None
        while True:
            page = await self._fetch(cursor)
            yield page
            if not page.next_cursor or not page.data:
                return
            cursor = page.next_cursor

    async def _items(self) -> AsyncIterator[T]:
        seen = 0
        async for page in self.pages():
            for item in page.data:
                yield item
                seen += 1
                if self._limit is not None and seen >= self._limit:
                    return

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def first_page(self) -> Page[T]:
        return await self._fetch(None)

    async def to_list(self) -> list[T]:
        return [item async for item in self]
