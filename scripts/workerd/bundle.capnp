# The message workerd reads as its Pyodide bundle: a list of modules, as in workerd's
# src/workerd/jsg/modules.capnp (same file id, field ordinals and types, so the encoding
# is the one workerd decodes). Written for scripts/workerd/bundle.py; only the fields it
# sets matter.
@0xc8cbb234694939d5;

struct Bundle {
  modules @0 :List(Module);
}

struct Module {
  name @0 :Text;
  union {
    src @1 :Data;
    wasm @4 :Data;
    data @5 :Data;
    json @6 :Text;
  }
  tsDeclaration @3 :Text;
  type @2 :ModuleType;
  compileCache @7 :Data;
}

enum ModuleType {
  bundle @0;
  builtin @1;
  internal @2;
}
