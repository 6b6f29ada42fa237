"""moto's server, with its DynamoDB requests taken one at a time.

moto's server answers each request on a thread of its own, and its DynamoDB backend is not safe for that:
`TransactWriteItems` deep-copies every table it touches before it starts and, when any item's condition fails,
puts the copies back. Two things follow when other requests run meanwhile (measured in the browser tests,
where the local portal's mail relay writes every two seconds while a test pushes a booking):

- the copy iterates a table another thread is writing to: `RuntimeError: dictionary changed size during
  iteration`, a 500 the SDK retries and, three times in a row on a large table, gives up on;
- a transaction that is cancelled (a notice that already exists, a payment already recorded: the idempotent
  paths) restores the whole table as it was when it began, silently undoing every write other requests made
  in between.

DynamoDB itself has neither problem, so the emulator is made to behave like it by serialising its DynamoDB
requests (one lock around the handler; moto's other services stay concurrent, so an SQS long poll does not
block a table). Python runs one thread at a time anyway: the lock costs no throughput.

And moto keeps every model object it ever made, for its `/moto-api/data.json` dump: every DynamoDB item
version and, through that copy, every item of a table once per transaction. The dump (which the tests read
sent emails from) then grows with the square of the writes: minutes per dump late in a test run, and memory
that is never freed. DynamoDB's objects are left out of it (the tables are read through the API, not the dump).

Usage: python tests/moto_server.py -H 127.0.0.1 -p PORT (the same arguments as moto_server).
"""

import threading

from moto.core.common_models import BaseModel
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_dynamodb = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialised(self):  # type: ignore[no-untyped-def]
    with _dynamodb:
        return _call_action(self)


DynamoHandler.call_action = _serialised  # type: ignore[method-assign]


def _new(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
    # BaseModel.__new__, without the record for DynamoDB's models.
    instance = super(BaseModel, cls).__new__(cls)
    if not cls.__module__.startswith("moto.dynamodb."):
        cls.instances_tracked.append(instance)
    return instance


BaseModel.__new__ = staticmethod(_new)  # type: ignore[method-assign,assignment]

if __name__ == "__main__":
    main()
