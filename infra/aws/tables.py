"""DynamoDB tables for CDK, read off the PynamoDB models: keys, attribute types, global
secondary indexes with their projections, and TTL. One definition, two runtimes."""

from __future__ import annotations

from dataclasses import dataclass, field

from pynamodb.attributes import Attribute, BinaryAttribute, NumberAttribute, TTLAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model


@dataclass(frozen=True)
class Key:
    name: str
    type: str  # "S" | "N" | "B"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: Key
    range_key: Key | None
    projection: str  # "ALL" | "KEYS_ONLY" | "INCLUDE"
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    model: str
    table_name: str
    hash_key: Key
    range_key: Key | None
    indexes: tuple[IndexSpec, ...] = field(default_factory=tuple)
    ttl_attribute: str | None = None


def _type(attribute: Attribute) -> str:
    if isinstance(attribute, NumberAttribute):
        return "N"
    if isinstance(attribute, BinaryAttribute):
        return "B"
    return "S"


def _key(attribute: Attribute | None) -> Key | None:
    if attribute is None:
        return None
    return Key(attribute.attr_name, _type(attribute))


def table_spec(model: type[Model]) -> TableSpec:
    attributes = model.get_attributes()
    hash_attr = next(a for a in attributes.values() if a.is_hash_key)
    range_attr = next((a for a in attributes.values() if a.is_range_key), None)
    indexes = []
    for name in dir(model):
        index = getattr(model, name, None)
        if not isinstance(index, GlobalSecondaryIndex):
            continue
        index_attrs = index.Meta.attributes
        index_hash = next(a for a in index_attrs.values() if a.is_hash_key)
        index_range = next((a for a in index_attrs.values() if a.is_range_key), None)
        projection = index.Meta.projection
        kind = (
            "ALL"
            if isinstance(projection, AllProjection)
            else ("KEYS_ONLY" if isinstance(projection, KeysOnlyProjection) else "INCLUDE")
        )
        hash_key = _key(index_hash)
        assert hash_key is not None
        indexes.append(
            IndexSpec(
                index.Meta.index_name,
                hash_key,
                _key(index_range),
                kind,
                tuple(getattr(projection, "non_key_attributes", None) or ()),
            )
        )
    ttl = next((a.attr_name for a in attributes.values() if isinstance(a, TTLAttribute)), None)
    hash_key = _key(hash_attr)
    assert hash_key is not None
    return TableSpec(
        model.__name__,
        model.Meta.table_name,
        hash_key,
        _key(range_attr),
        tuple(sorted(indexes, key=lambda i: i.name)),
        ttl,
    )
