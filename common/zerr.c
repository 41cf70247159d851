/* Names of ZooKeeper's error codes and opcodes, for log lines and tools. */
#include "common/zerr.h"

const char *zerr_name(int err)
{
    switch (err) {
    case ZOK: return "OK";
    case ZSYSTEMERROR: return "SYSTEMERROR";
    case ZRUNTIMEINCONSISTENCY: return "RUNTIMEINCONSISTENCY";
    case ZDATAINCONSISTENCY: return "DATAINCONSISTENCY";
    case ZCONNECTIONLOSS: return "CONNECTIONLOSS";
    case ZMARSHALLINGERROR: return "MARSHALLINGERROR";
    case ZUNIMPLEMENTED: return "UNIMPLEMENTED";
    case ZOPERATIONTIMEOUT: return "OPERATIONTIMEOUT";
    case ZBADARGUMENTS: return "BADARGUMENTS";
    case ZUNKNOWNSESSION: return "UNKNOWNSESSION";
    case ZNEWCONFIGNOQUORUM: return "NEWCONFIGNOQUORUM";
    case ZRECONFIGINPROGRESS: return "RECONFIGINPROGRESS";
    case ZAPIERROR: return "APIERROR";
    case ZNONODE: return "NONODE";
    case ZNOAUTH: return "NOAUTH";
    case ZBADVERSION: return "BADVERSION";
    case ZNOCHILDRENFOREPHEMERALS: return "NOCHILDRENFOREPHEMERALS";
    case ZNODEEXISTS: return "NODEEXISTS";
    case ZNOTEMPTY: return "NOTEMPTY";
    case ZSESSIONEXPIRED: return "SESSIONEXPIRED";
    case ZINVALIDCALLBACK: return "INVALIDCALLBACK";
    case ZINVALIDACL: return "INVALIDACL";
    case ZAUTHFAILED: return "AUTHFAILED";
    case ZCLOSING: return "CLOSING";
    case ZNOTHING: return "NOTHING";
    case ZSESSIONMOVED: return "SESSIONMOVED";
    case ZNOTREADONLY: return "NOTREADONLY";
    case ZEPHEMERALONLOCALSESSION: return "EPHEMERALONLOCALSESSION";
    case ZNOWATCHER: return "NOWATCHER";
    case ZRECONFIGDISABLED: return "RECONFIGDISABLED";
    case ZSESSIONCLOSEDREQUIRESASLAUTH: return "SESSIONCLOSEDREQUIRESASLAUTH";
    case ZQUOTAEXCEEDED: return "QUOTAEXCEEDED";
    case ZTHROTTLEDOP: return "THROTTLEDOP";
    default: return "UNKNOWN";
    }
}

const char *zop_name(int op)
{
    switch (op) {
    case ZOP_NOTIFY: return "notification";
    case ZOP_CREATE: return "create";
    case ZOP_DELETE: return "delete";
    case ZOP_EXISTS: return "exists";
    case ZOP_GETDATA: return "getData";
    case ZOP_SETDATA: return "setData";
    case ZOP_GETACL: return "getACL";
    case ZOP_SETACL: return "setACL";
    case ZOP_GETCHILDREN: return "getChildren";
    case ZOP_SYNC: return "sync";
    case ZOP_PING: return "ping";
    case ZOP_GETCHILDREN2: return "getChildren2";
    case ZOP_CHECK: return "check";
    case ZOP_MULTI: return "multi";
    case ZOP_CREATE2: return "create2";
    case ZOP_RECONFIG: return "reconfig";
    case ZOP_CHECKWATCHES: return "checkWatches";
    case ZOP_REMOVEWATCHES: return "removeWatches";
    case ZOP_CREATECONTAINER: return "createContainer";
    case ZOP_DELETECONTAINER: return "deleteContainer";
    case ZOP_CREATETTL: return "createTTL";
    case ZOP_MULTIREAD: return "multiRead";
    case ZOP_AUTH: return "auth";
    case ZOP_SETWATCHES: return "setWatches";
    case ZOP_SASL: return "sasl";
    case ZOP_GETEPHEMERALS: return "getEphemerals";
    case ZOP_GETALLCHILDRENNUMBER: return "getAllChildrenNumber";
    case ZOP_SETWATCHES2: return "setWatches2";
    case ZOP_ADDWATCH: return "addWatch";
    case ZOP_WHOAMI: return "whoAmI";
    case ZOP_CREATESESSION: return "createSession";
    case ZOP_CLOSESESSION: return "closeSession";
    case ZOP_ERROR: return "error";
    default: return "unknown";
    }
}
