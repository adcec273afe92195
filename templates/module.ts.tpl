{{banner}}
{{imports}}

{{body}}
