"""An Open311 client's session against Whistle, with PyPI's `georeport` (run by
deploy/dev/georeport.sh, asserted on by tests/stack.rs).

georeport 0.3.1 lists services, reads definitions and reads requests, in JSON and XML; it has no
call that creates a request, so the POST is the spec's form post made with `requests` (which
georeport itself uses) to the same root address. Prints one JSON line of what it saw; exits
non-zero on any error.

usage: python open311_client.py BASE_URL API_KEY
"""

import json
import sys

import requests
from georeport import GeoReport


def main() -> None:
    base, api_key = sys.argv[1], sys.argv[2]
    root = base.rstrip("/") + "/open311/v2"
    client = GeoReport(root, jurisdiction="500103", api_key=api_key)
    services = client.get_service_list()
    codes = [s["service_code"] for s in services]
    definition = client.get_service_definition("CQ-ENV-001")

    # 解放碑, 渝中区: the sample district's town 500103001.
    form = {
        "api_key": client.api_key,
        "jurisdiction_id": client.jurisdiction,
        "service_code": "CQ-ENV-001",
        "lat": "29.5575",
        "long": "106.5770",
        "address_string": "渝中区解放碑步行街",
        "description": "河边有废油桶泄漏 (georeport client)",
        "first_name": "San",
        "last_name": "Zhang",
        "phone": "13800000000",
    }
    posted = requests.post(f"{root}/requests.json", data=form, timeout=30)
    posted.raise_for_status()
    request_id = posted.json()[0]["service_request_id"]
    refused = requests.post(f"{root}/requests.json", data={**form, "api_key": "not-a-key"}, timeout=30)

    status = client.get_service_request(request_id)
    listed = client.get_service_requests(service_request_id=request_id)
    xml_client = GeoReport(root, jurisdiction="500103", output_format="xml")
    xml_services = xml_client.get_service_list()
    xml_status = xml_client.get_service_request(request_id)
    print(
        json.dumps(
            {
                "services": len(services),
                "has_env_item": "CQ-ENV-001" in codes,
                "definition_code": definition["service_code"],
                "posted_status": posted.status_code,
                "service_request_id": request_id,
                "refused_status": refused.status_code,
                "refused_body": refused.json(),
                "status": status["status"],
                "whistle_status": status["whistle_status"],
                "town": status.get("town"),
                "listed": [r["service_request_id"] for r in listed],
                "xml_services": len(xml_services),
                "xml_status": xml_status["status"],
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
