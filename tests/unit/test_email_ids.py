from centrala.emails import ids


def test_our_message_ids_name_their_conversation_and_cannot_be_forged():
    mid = ids.make_message_id("k1", 42, "example.com")
    assert mid.endswith("@example.com") and ids.conversation_of("k1", mid) == 42
    assert ids.conversation_of("k1", f"<{mid}>") == 42
    assert ids.conversation_of("other key", mid) is None
    forged = mid.replace("c42.", "c43.", 1)
    assert ids.conversation_of("k1", forged) is None
    assert ids.conversation_of("k1", "CAF=abc@mail.gmail.com") is None


def test_the_token_is_added_once_and_found_again():
    t = ids.new_token()
    s = ids.with_token("Faktura 12/2026", t)
    assert s == f"Re: Faktura 12/2026 [#{t}]" and ids.with_token(s, t) == s
    assert ids.token_in(f"Odp: {s}") == t and ids.token_in("no token") is None
    assert ids.with_token("Odp: pytanie", t) == f"Odp: pytanie [#{t}]"
