"""Customer lists: visibility by role, filters, search, sort, pages; masking and its audit."""

from __future__ import annotations

from api_helpers import BOTH


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [c["customer_id"] for c in response.json()["items"]]


@BOTH
def test_users_see_their_own_customers_unless_their_role_grants_more(org):
    assert _ids(org.client("alice").get("/api/v1/customers")) == ["c000", "c001", "c002"]
    assert _ids(org.client("bob").get("/api/v1/customers")) == ["c003"]
    assert len(_ids(org.client("mark").get("/api/v1/customers"))) == 6
    assert len(_ids(org.client("max").get("/api/v1/customers"))) == 6


@BOTH
def test_another_users_customer_looks_like_an_unknown_one(org):
    alice = org.client("alice")
    for path in ("/api/v1/customers/c003", "/api/v1/customers/c003/record"):
        mine_not = alice.get(path)
        unknown = alice.get(path.replace("c003", "zzz"))
        assert mine_not.status_code == unknown.status_code == 404
        assert mine_not.json()["error"]["code"] == "not_found"


def test_filters_combine_and_total_counts_every_page(org):
    client = org.client("admin")
    assert _ids(client.get("/api/v1/customers?stage=growing")) == ["c002"]
    assert _ids(client.get("/api/v1/customers?grey_zone=true")) == ["c002", "c004"]
    assert _ids(client.get(f"/api/v1/customers?owner_id={org.users['alice']}&grey_zone=false")) == [
        "c000",
        "c001",
    ]
    page = client.get("/api/v1/customers?limit=2&offset=2&sort=-id").json()
    assert [c["customer_id"] for c in page["items"]] == ["c003", "c002"]
    assert page["total"] == 6 and page["limit"] == 2 and page["offset"] == 2


def test_search_matches_part_of_the_id_or_the_name_literally(org):
    client = org.client("admin")
    assert _ids(client.get("/api/v1/customers", params={"q": "acme"})) == ["c003"]
    assert _ids(client.get("/api/v1/customers", params={"q": "张"})) == ["c000"]
    assert _ids(client.get("/api/v1/customers", params={"q": "c00"})) == [
        f"c00{i}" for i in range(6)
    ]
    assert _ids(client.get("/api/v1/customers", params={"q": "%"})) == []


def test_sort_by_name_and_stage(org):
    client = org.client("admin")
    names = [c["name"] for c in client.get("/api/v1/customers?sort=name").json()["items"]]
    assert names == sorted(names)
    stages = [c["stage"] for c in client.get("/api/v1/customers?sort=-stage").json()["items"]]
    assert stages == sorted(stages, reverse=True)


def test_filter_by_tag(org):
    from clm.store.bulk import utcnow
    from clm.store.tables import CustomerTag, Tag

    with org.session() as s:
        tag = Tag(
            name="price_sensitive",
            label_en="Price-sensitive",
            label_zh="价格敏感型",
            kind="manual",
            created_at=utcnow(),
        )
        s.add(tag)
        s.flush()
        s.add(CustomerTag(customer_id="c001", tag_id=tag.id, source="manual", tagged_at=utcnow()))
        s.commit()
    client = org.client("alice")
    assert _ids(client.get("/api/v1/customers?tag=price_sensitive")) == ["c001"]
    assert _ids(client.get("/api/v1/customers?tag=unknown")) == []


@BOTH
def test_contacts_are_masked_in_lists_and_cards(org):
    client = org.client("alice")
    first = client.get("/api/v1/customers").json()["items"][0]
    assert first["phone"] == "138****8888" and first["email"] == "u***@example.com"
    card = client.get("/api/v1/customers/c000").json()
    assert card["contacts_masked"] is True and card["phone"] == "138****8888"


@BOTH
def test_unmasked_read_needs_the_permission_and_is_audited(org):
    card = org.client("alice").get("/api/v1/customers/c000?unmask=true")
    assert card.status_code == 200
    assert card.json()["phone"] == "13800008888" and card.json()["contacts_masked"] is False
    refused = org.client("mark").get("/api/v1/customers/c000?unmask=true")
    assert refused.status_code == 403
    assert refused.json()["error"]["context"]["permission"] == "contacts:unmask"
    audit = org.client("admin").get("/api/v1/audit?entity=customer").json()
    reads = [a for a in audit if a["action"] == "read_unmasked"]
    assert len(reads) == 1
    assert reads[0]["actor_user_id"] == org.users["alice"] and reads[0]["customer_id"] == "c000"


def test_stage_history_lists_changes_with_reasons_oldest_first(org):
    rows = org.client("alice").get("/api/v1/customers/c001/stages").json()
    assert [(r["from_stage"], r["to_stage"]) for r in rows] == [
        (None, "prospect"),
        ("prospect", "new"),
    ]
    assert rows[1]["reasons"] == ["rule new"] and rows[0]["changed_on"] == "2024-01-05"
