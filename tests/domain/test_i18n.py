from clm.domain.i18n import LOCALES, catalog, normalize_locale, t


def test_every_label_exists_in_both_languages():
    keys = [set(catalog(loc)) for loc in LOCALES]
    assert keys[0] == keys[1], keys[0] ^ keys[1]
    for loc in LOCALES:
        assert all(v.strip() for v in catalog(loc).values()), loc


def test_labels_are_translated_and_formatted():
    assert t("stage.churned", "zh-CN") == "流失客户"
    assert t("stage.churned", "en") == "Churned"
    assert "12" in t("run.quarantine_hint", "zh_CN", count=12, path="q.csv")


def test_locale_aliases_map_onto_supported_locales():
    assert normalize_locale("zh") == "zh-CN"
    assert normalize_locale("en-US") == "en"
    assert normalize_locale(None) == "en"
