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
# the seed printed a random value; the relation it illustrates must hold
assert bool(a.grad == d / a), (a.grad, d / a)
