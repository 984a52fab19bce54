import{a,b as o,c as r}from"./chunk-UYIUW43X.js";import"./chunk-7WNWATSX.js";import"./chunk-PHKIAKHS.js";export{r as default,a as en,o as kaa};
