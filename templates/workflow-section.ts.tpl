// ---- {{workflow}} ----

{{sections}}
