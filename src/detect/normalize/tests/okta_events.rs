//! Okta events, verbatim copies of `/work/shared/fixtures/okta/*.json`, kept here so the crate
//! builds without the shared directory.

/// `user.account.privilege.grant.seed.json`
pub(super) const SEED: &str = r#"{
  "uuid": "2a992f80-d1ad-4f62-900e-8c68bb72a21b",
  "published": "2020-11-25 21:27:03.496000000",
  "eventType": "user.account.privilege.grant",
  "version": "0",
  "severity": "INFO",
  "legacyEventType": "core.user.admin_privilege.granted",
  "displayMessage": "Grant user privilege",
  "actor": {
"id": "00uu1uuuuIlllaaaa356",
"type": "User",
"alternateId": "jack.naglieri@runpanther.io",
"displayName": "Jack Naglieri"
  },
  "client": {
"userAgent": {
  "browser": "CHROME",
  "os": "Mac OS X",
  "rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/86.0.4240.198 Safari/537.36"
},
"geographicalContext": {
  "geolocation": {
    "lat": 48.8916,
    "lon": 2.7939
  },
  "city": "Coupvray",
  "state": "Ile-de-France",
  "country": "France",
  "postalCode": "77700"
},
"zone": "null",
"ipAddress": "194.88.246.242",
"device": "Computer"
  },
  "request": {},
  "outcome": {
"result": "SUCCESS"
  },
  "target": [
{
  "id": "00u6eup97mAJZWYmP357",
  "type": "User",
  "alternateId": "thomaskinsella@tines.io",
  "displayName": "Thomas Kinsella"
}
  ],
  "transaction": {},
  "debugContext": {
"debugData": {
  "privilegeGranted": "Organization administrator, Application administrator (all)",
  "requestUri": "/api/internal/administrators/00u6eu8c68bb72a21b57",
  "threatSuspected": "false",
  "url": "/api/internal/administrators/00u6eu8c68bb72a21b57",
  "requestId": "X777JJ9sssQQHHrrrQTyYQAABBE"
}
  },
  "authenticationContext": {},
  "securityContext": {}
}"#;

/// `user.session.start.json`
pub(super) const SESSION_START: &str = r#"{
  "severity": "INFO",
  "transaction": {
"type": "WEB",
"id": "Xqv35Wg7bT74OrlHVCM7JgAAFHM",
"detail": {}
  },
  "target": null,
  "actor": {
"displayName": "John Doe",
"detailEntry": null,
"id": "00u3mo2ci0RuzhCQe357",
"type": "User",
"alternateId": "foo@bar.com"
  },
  "client": {
"userAgent": {
  "rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.129 Safari/537.36",
  "os": "Mac OS X",
  "browser": "CHROME"
},
"zone": "null",
"device": "Computer",
"id": null,
"ipAddress": "1.1.1.1",
"geographicalContext": {
  "city": "Madrid",
  "state": "Madrid",
  "country": "Spain",
  "postalCode": "28005",
  "geolocation": {
    "lat": 40.4143,
    "lon": -3.7016
  }
}
  },
  "authenticationContext": {
"authenticationProvider": null,
"credentialProvider": null,
"credentialType": null,
"issuer": null,
"interface": null,
"authenticationStep": 0,
"externalSessionId": "102iCf9Im9wSEmaVMYZNbEOMA"
  },
  "published": "2020-05-01T10:20:22.243Z",
  "version": "0",
  "request": {
"ipChain": [
  {
    "source": null,
    "ip": "1.1.1.1",
    "geographicalContext": {
      "city": "Madrid",
      "state": "Madrid",
      "country": "Spain",
      "postalCode": "28005",
      "geolocation": {
        "lon": -3.7016,
        "lat": 40.4143
      }
    },
    "version": "V4"
  }
]
  },
  "displayMessage": "User login to Okta",
  "eventType": "user.session.start",
  "debugContext": {
"debugData": {
  "deviceFingerprint": "d46b17d2d7119ece5a466d6e6d4285db",
  "requestId": "Xqv35Wg7bT74OrlHVCM7JgAAFHM",
  "requestUri": "/api/v1/authn",
  "threatSuspected": "false",
  "url": "/api/v1/authn?"
}
  },
  "legacyEventType": "core.user_auth.login_success",
  "securityContext": {
"asNumber": null,
"asOrg": null,
"isp": null,
"domain": null,
"isProxy": null
  },
  "uuid": "5d730bf4-8b95-11ea-8cbe-bf2eaab2e9ef",
  "outcome": {
"result": "SUCCESS",
"reason": null
  }
}"#;

/// `group.user_membership.add.bypass-mfa.json`
pub(super) const BYPASS_MFA: &str = r#"{
  "actor": {
"alternateId": "it.admin@example.com",
"detailEntry": null,
"displayName": "IT Admin",
"id": "00u1adm1nXyZ2AbC3d4e",
"type": "User"
  },
  "authenticationContext": {
"authenticationProvider": null,
"authenticationStep": 0,
"credentialProvider": null,
"credentialType": null,
"externalSessionId": "trsd7PuSH7sSDS_UIfWdOsPPg",
"interface": null,
"issuer": null
  },
  "client": {
"device": "Computer",
"geographicalContext": {
  "city": "Boardman",
  "country": "United States",
  "geolocation": {
    "lat": 45.8696,
    "lon": -119.688
  },
  "postalCode": "97818",
  "state": "Oregon"
},
"id": null,
"ipAddress": "198.51.100.23",
"userAgent": {
  "browser": "CHROME",
  "os": "Mac OS X",
  "rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/92.0.4515.159 Safari/537.36"
},
"zone": "null"
  },
  "debugContext": {
"debugData": {
  "requestId": "YSiMbUWx2sY0b0cnBKeZ3wAABDs",
  "requestUri": "/api/v1/groups/00g1bypa55mfaGrp10h7/users/00u6eup97mAJZWYmP999",
  "url": "/api/v1/groups/00g1bypa55mfaGrp10h7/users/00u6eup97mAJZWYmP999?"
}
  },
  "displayMessage": "Add user to group membership",
  "eventType": "group.user_membership.add",
  "legacyEventType": "core.user_group_member.user_add",
  "outcome": {
"reason": null,
"result": "SUCCESS"
  },
  "published": "2021-08-26T16:25:02.936Z",
  "request": {
"ipChain": [
  {
    "geographicalContext": {
      "city": "Boardman",
      "country": "United States",
      "geolocation": {
        "lat": 45.8696,
        "lon": -119.688
      },
      "postalCode": "97818",
      "state": "Oregon"
    },
    "ip": "198.51.100.23",
    "source": null,
    "version": "V4"
  }
]
  },
  "securityContext": {
"asNumber": null,
"asOrg": null,
"domain": null,
"isProxy": null,
"isp": null
  },
  "severity": "INFO",
  "target": [
{
  "alternateId": "alice@example.com",
  "detailEntry": null,
  "displayName": "Alice Example",
  "id": "00u6eup97mAJZWYmP999",
  "type": "User"
},
{
  "alternateId": "unknown",
  "detailEntry": null,
  "displayName": "Bypass MFA Group",
  "id": "00g1bypa55mfaGrp10h7",
  "type": "UserGroup"
}
  ],
  "transaction": {
"detail": {},
"id": "YSiMbUWx2sY0b0cnBKeZ3wAABDs",
"type": "WEB"
  },
  "uuid": "b6f1c3de-0a7e-4c1b-9d51-3f2a8e6c7b10",
  "version": "0"
}"#;
