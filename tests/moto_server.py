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

With requests serialised, a transaction's rollback only has to put back the items it touched: the table copy
(every item, on every transaction: a 1,000-step simulation on one booking spent minutes copying) is replaced
by a copy of those items, restored the same way when the transaction is cancelled.

And moto keeps every model object it ever made, for its `/moto-api/data.json` dump: every DynamoDB item
version and, through that copy, every item of a table once per transaction. The dump (which the tests read
sent emails from) then grows with the square of the writes: minutes per dump late in a test run, and memory
that is never freed. DynamoDB's objects are left out of it (the tables are read through the API, not the dump).

Usage: python tests/moto_server.py -H 127.0.0.1 -p PORT (the same arguments as moto_server).
"""

import copy
import threading

import moto.dynamodb.models as dynamodb_models
from moto.core.common_models import BaseModel
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_dynamodb = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialised(self):  # type: ignore[no-untyped-def]
    with _dynamodb:
        return _call_action(self)


DynamoHandler.call_action = _serialised  # type: ignore[method-assign]


class _TablesUncopied:
    """`copy` as moto's DynamoDB backend sees it: a Table "copies" to itself (its items are saved one by one)."""

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(copy, name)

    @staticmethod
    def deepcopy(obj, memo=None):  # type: ignore[no-untyped-def]
        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)


dynamodb_models.copy = _TablesUncopied()  # type: ignore[assignment]
_transact_write_items = DynamoDBBackend.transact_write_items


def _item_key(table, op_type, op):  # type: ignore[no-untyped-def]
    attrs = op["Item"] if op_type == "Put" else op["Key"]
    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_key, range_key


def _transact_saving_items(self, transact_items):  # type: ignore[no-untyped-def]
    saved = []
    for entry in transact_items:
        try:
            op_type, op = next(iter(entry.items()))
            table = self.tables[op["TableName"]]
            hash_key, range_key = _item_key(table, op_type, op)
        except Exception:  # noqa: BLE001 - moto reports the malformed entry itself
            continue
        saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        for table, hash_key, range_key, old in reversed(saved):
            if range_key is not None:
                if old is None:
                    table.items[hash_key].pop(range_key, None)
                else:
                    table.items[hash_key][range_key] = old
            elif old is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = old
        raise


DynamoDBBackend.transact_write_items = _transact_saving_items  # type: ignore[method-assign]


def _new(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
    # BaseModel.__new__, without the record for DynamoDB's models.
    instance = super(BaseModel, cls).__new__(cls)
    if not cls.__module__.startswith("moto.dynamodb."):
        cls.instances_tracked.append(instance)
    return instance


BaseModel.__new__ = staticmethod(_new)  # type: ignore[method-assign,assignment]

if __name__ == "__main__":
    main()
