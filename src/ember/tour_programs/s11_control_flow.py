import ember as torch
def f(a):
    b=a*2
    while b.norm()<1000:
        b=b*2
    if b.sum()>0:
        c=b
    else:
        c= 100*b
    return c
a= torch.randn(size=(),requires_grad=True)
print(a)
d=f(a)
d.backward()
print(repr(a.grad))
# The seed printed random values; the relation it shows is a.grad == d / a. In float32
# d / a can round away from a.grad (when d = 100 * b); a.grad * a == d holds exactly.
print(a.grad * a == d)
